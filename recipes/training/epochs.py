"""Training data whose order and augmentation depend only on the seed and the epoch, so a resumed run sees
the data an uninterrupted one would.

`tf.data`'s `shuffle(reshuffle_each_iteration=True)` draws each epoch's order from
a state that starts afresh in every process: a run resumed at epoch 3 would see
epoch 1's order again. Here epoch `e` shuffles with the stateless key
`(seed, e)` and gives example `i` the random key `(seed, e * size + i)` for its
augmentation; `EpochOrder`, a callback, sets `e` when each epoch begins (Keras
creates the epoch's iterator after `on_epoch_begin`).
"""

import keras
import tensorflow as tf


class EpochOrder(keras.callbacks.Callback):
    """The epoch the training pipeline shuffles for; give it to `fit` with the pipeline it made (`examples`)."""

    def __init__(self, seed):
        super().__init__()
        self.seed = tf.constant(seed, tf.int64)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)

    def examples(self, tensors, *, with_keys=False):
        """A dataset of the examples of `tensors` (a tuple of arrays, one row per example) in the current
        epoch's order; with `with_keys`, each example ends with its random key (int64 `(2,)`) for
        stateless random ops (`tf.random.stateless_*`, `tf.image.stateless_*`)."""
        tensors = tuple(tf.convert_to_tensor(tensor) for tensor in tensors)
        size = int(tensors[0].shape[0])

        def one_epoch(_):
            epoch = self.epoch.read_value()
            order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=tf.stack([self.seed, epoch]))
            return tf.data.Dataset.from_tensor_slices(order).map(lambda index: pick(index, epoch))

        def pick(index, epoch):
            example = tuple(tf.gather(tensor, index) for tensor in tensors)
            return (*example, tf.stack([self.seed, epoch * size + index])) if with_keys else example

        return tf.data.Dataset.from_tensors(0).flat_map(one_epoch).apply(tf.data.experimental.assert_cardinality(size))


def example_dataset(examples, order=None):
    """`examples` (a tuple of arrays, one row per example) as a dataset: in their order, or for training in the
    current epoch's `order` (an `EpochOrder`)."""
    return tf.data.Dataset.from_tensor_slices(examples) if order is None else order.examples(examples)
