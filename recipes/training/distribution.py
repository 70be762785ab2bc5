"""Data-parallel training on the devices of one host: a replica of the model on each, every batch split among them.

On JAX, `keras.distribution.DataParallel`: the weights replicated on a 1-D mesh of the
devices, each batch sharded along its first axis, the gradients summed by XLA's
all-reduce. A batch the devices cannot share evenly (an epoch's last, a text
recipe's length bucket) runs whole on each device instead.

The batch size stays the global one and the learning rate stays as set, so a
2-device run takes the steps of a 1-device run, each on the same examples, and
ends with the same weights up to the order of floating-point sums (scaling the
learning rate with a larger global batch, Goyal et al. 2017, is the user's choice).
BatchNormalization computes its statistics over the whole batch, as on one device.

TensorFlow is refused (`REFUSED_OFF_JAX`): `tf.distribute.MirroredStrategy`
under Keras 3.15 trains batches that split evenly exactly, but a batch that does
not (which every recipe has) either stops training or weighs its examples unequally.
"""

import contextlib

import keras

DISTRIBUTIONS = ("data_parallel",)
# Measured with 2 logical CPUs: a first batch of 9 examples split 5/4 stops `fit` before training (Keras averages the
# first batch across the replicas to build the model, and the shapes differ); a length bucket of 1 example stops it
# mid-epoch (an embedding's sparse gradient of a replica without examples cannot join the all-reduce); a last batch
# of 3 split 2/1 trains with each replica's mean loss weighted equally, not each example.
REFUSED_OFF_JAX = (
    "distribution='data_parallel' runs on the JAX backend: start the run with KERAS_BACKEND=jax. On TensorFlow, "
    "Keras 3.15's MirroredStrategy stops or weighs examples unequally on batches the devices cannot share evenly, "
    "which every recipe has (an epoch's last batch, the text recipes' length buckets)"
)


def distributed(distribution, devices=None):
    """A context in which a run's model is built and trained: on one device (`distribution` None), or data parallel
    on the first `devices` local devices (None: all of them). Refuses a backend other than JAX when created,
    before it is entered."""
    if distribution is None:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(f"{REFUSED_OFF_JAX} (Keras runs on {backend}).")
    return _JaxDataParallel(devices=_first(devices, keras.distribution.list_devices())).scope()


def _first(count, available):
    if count is not None and count > len(available):
        raise ValueError(f"`devices` must be at most the {len(available)} local devices ({', '.join(available)}); received devices={count}.")
    return available[:count]


class _JaxDataParallel(keras.distribution.DataParallel):
    """`DataParallel` that runs a batch the devices cannot share evenly (an epoch's last) whole on each device
    instead of refusing it: the same numbers, without the split."""

    def get_data_layout(self, data_shape):
        if data_shape[0] % self.num_model_replicas:
            return keras.distribution.TensorLayout([None] * len(data_shape), self.device_mesh)
        return super().get_data_layout(data_shape)
