"""Reading TensorBoard event files directly, as the tests check what the recipes logged."""

from pathlib import Path

import tensorflow as tf


def read_summaries(log_dir, plugin):
    """`{(tag, step): tensor}` of the summaries of `plugin` ("images", "text", "scalars") in `log_dir`."""
    found = {}
    for path in Path(log_dir).glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == plugin:
                    found[value.tag, event.step] = tf.make_ndarray(value.tensor)
    return found


def read_images(log_dir):
    """`{(tag, step): image}` decoded from their PNGs to [0, 1]: `(H, W)` for gray images, `(H, W, 3)` for colour."""
    images = {}
    for key, tensor in read_summaries(log_dir, "images").items():
        pixels = tf.io.decode_png(tensor[2]).numpy() / 255.0
        images[key] = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    return images


def read_texts(log_dir):
    """`{(tag, step): text}` of the text summaries in `log_dir`."""
    return {key: tensor.item().decode() for key, tensor in read_summaries(log_dir, "text").items()}
