"""Random Erasing (Zhong et al., 2020, Random Erasing Data Augmentation, AAAI, Algorithm 1), for `tf.data`.

With probability `p` an image gets one rectangle of random pixels. The
rectangle's area is `S_e = U(s_l, s_h) * S` (`S` the image's area) and its
aspect ratio `r_e = U(r_1, 1 / r_1)`; its sides are `H_e = sqrt(S_e r_e)`
and `W_e = sqrt(S_e / r_e)`, and its top-left corner is uniform over the image.
A rectangle that does not fit is drawn again; every erased pixel and channel
gets a random value in 0..255. The paper's settings: `p = 0.5`,
`s_l = 0.02`, `s_h = 0.4`, `r_1 = 0.3`.

`keras.layers.RandomErasing` differs: it draws the two sides independently
(so neither the area nor the aspect ratio follows the paper) and fills with
clipped normal noise (half the erased pixels come out 0).
"""

import tensorflow as tf

ERASED_AREA = (0.02, 0.4)  # s_l, s_h: the share of the image erased
ASPECT_RATIO = 0.3  # r_1: the rectangle's height / width lies in [r_1, 1 / r_1]
ATTEMPTS = 100  # rectangles drawn per image; the first that fits is erased (as in the authors' code)


def random_erasing(image, probability, key, area=ERASED_AREA, aspect_ratio=ASPECT_RATIO):
    """`image` `(H, W, C)` float, with probability `probability` one random rectangle replaced by random pixels.

    Args:
        key: the stateless random key (int `(2,)`) every draw derives from: the same key erases the same way.

    Returns:
        The image, same shape and dtype. If none of `ATTEMPTS` rectangles fits
        (practically never), the image is left as it is.
    """
    keys = iter(tf.unstack(tf.random.experimental.stateless_split(key, 6)))

    def uniform(shape, low, high, dtype=tf.float32):
        return tf.random.stateless_uniform(shape, next(keys), low, high, dtype)

    height, width = tf.shape(image)[0], tf.shape(image)[1]
    target = uniform([ATTEMPTS], *area) * tf.cast(height * width, tf.float32)
    ratio = uniform([ATTEMPTS], aspect_ratio, 1.0 / aspect_ratio)
    heights = tf.cast(tf.round(tf.sqrt(target * ratio)), tf.int32)
    widths = tf.cast(tf.round(tf.sqrt(target / ratio)), tf.int32)
    tops = uniform([ATTEMPTS], 0, height, tf.int32)
    lefts = uniform([ATTEMPTS], 0, width, tf.int32)
    fits = (tops + heights <= height) & (lefts + widths <= width)
    first = tf.argmax(tf.cast(fits, tf.int32))
    erase = (uniform([], 0.0, 1.0) < probability) & tf.reduce_any(fits)

    rows, columns = tf.range(height)[:, None], tf.range(width)[None, :]
    inside = (
        (rows >= tops[first])
        & (rows < tops[first] + heights[first])
        & (columns >= lefts[first])
        & (columns < lefts[first] + widths[first])
    )
    noise = tf.floor(uniform(tf.shape(image), 0.0, 256.0))
    return tf.where(inside[:, :, None] & erase, tf.cast(noise, image.dtype), image)
