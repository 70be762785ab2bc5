"""Data-parallel training: a replica of the model on each device of one host, or of several processes (hosts), every
batch split among them.

On JAX, `keras.distribution.DataParallel`: the weights replicated on a 1-D mesh of the
devices, each batch sharded along its first axis, the gradients summed by XLA's
all-reduce. The batch size stays the global one and the learning rate stays as set,
so a run on N devices takes the steps of a 1-device run, each on the same examples,
and ends with the same weights up to the order of floating-point sums (scaling the
learning rate with a larger global batch, Goyal et al. 2017, is the user's choice).
BatchNormalization computes its statistics over the whole batch, as on one device.

A batch the devices cannot share evenly (an epoch's last, a text recipe's length bucket):

* one process: it runs whole on each device instead, the same numbers without the split;
* several processes (`processes`, joined by `keras.distribution.initialize` at
  `coordinator`, process 0): each process reads the whole data in the same order and
  keeps its share of each batch, which JAX assembles into the global batch. A share
  cannot say that it is a whole batch, so such a batch keeps its first `b - b mod R`
  examples for R devices in all (at most R - 1 left out, other ones each epoch when the
  data is shuffled) and a batch smaller than R is skipped. Each process writes its own
  run directory; they hold the same weights.

TensorFlow is refused (`REFUSED_OFF_JAX`): `tf.distribute.MirroredStrategy`
under Keras 3.15 trains batches that split evenly exactly, but a batch that does
not (which every recipe has) either stops training or weighs its examples unequally,
and `MultiWorkerMirroredStrategy` does not work with Keras 3 (keras-team/keras#20585,
open on 2026-12-05).
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
    "which every recipe has (an epoch's last batch, the text recipes' length buckets), and MultiWorkerMirroredStrategy "
    "does not work with Keras 3 (keras-team/keras#20585)"
)


def check_placement(distribution=None, devices=None, processes=None, process_index=None, coordinator=None):
    """Raises `ValueError` for settings of a run's placement that do not go together (each setting's own type is
    checked where it is declared, `recipes.task.BaseConfig`): what the setting needs or allows.

    `devices` (local devices, one process) and `processes`, `process_index`, `coordinator` (several processes) need
    `distribution='data_parallel'`; several processes need all three, and use every device of each."""
    given = {name: value for name, value in [("devices", devices), ("processes", processes),
                                             ("process_index", process_index), ("coordinator", coordinator)] if value is not None}
    if distribution is None and given:
        raise ValueError(f"{', '.join(f'`{name}`' for name in given)} need distribution='data_parallel'; received {given} and no distribution.")
    if processes in (None, 1):
        if {"process_index", "coordinator"} & given.keys() and processes is None:
            raise ValueError(f"`process_index` and `coordinator` belong to a run over several processes: set `processes` too; received {given}.")
        return
    if process_index is None or coordinator is None:
        raise ValueError(f"A run over processes={processes} needs `process_index` (0 ... {processes - 1}) and `coordinator` (HOST:PORT of process 0); received {given}.")
    if process_index >= processes:
        raise ValueError(f"`process_index` must be in 0 ... {processes - 1} for processes={processes}; received process_index={process_index}.")
    host, _, port = coordinator.rpartition(":")
    if not (host and port.isdigit()):
        raise ValueError(f"`coordinator` must be HOST:PORT, the address process 0 listens on; received coordinator={coordinator!r}.")
    if devices is not None:
        raise ValueError(f"A run over several processes uses every device of each; received devices={devices} with processes={processes}.")


def distributed(distribution, devices=None, processes=None, process_index=None, coordinator=None):
    """A context in which a run's model is built and trained: on one device (`distribution` None), or data parallel
    on the first `devices` local devices (None: all of them), or on every device of `processes` processes, this one
    `process_index`, which join at `coordinator`. Refuses a backend other than JAX when created, before it is
    entered; joins the processes when created (this must come before JAX's first computation in the process)."""
    if distribution is None:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(f"{REFUSED_OFF_JAX} (Keras runs on {backend}).")
    if processes not in (None, 1):
        _join(coordinator, processes, process_index)
    return _JaxDataParallel(devices=_first(devices, keras.distribution.list_devices())).scope()


_joined = []  # the (coordinator, processes, process_index) this process joined: JAX joins once per process


def _join(coordinator, processes, process_index):
    cluster = (coordinator, processes, process_index)
    if _joined:
        if _joined[0] != cluster:
            raise ValueError(f"This process already joined {_joined[0]} (coordinator, processes, process_index); a process joins one cluster: start a new one for {cluster}.")
        return
    try:
        keras.distribution.initialize(coordinator, processes, process_index)
    except RuntimeError as error:
        raise ValueError(f"Could not join processes={processes} at coordinator={coordinator!r} as process_index={process_index}: {error}. Start the run in a new process, before any other JAX computation.") from None
    _joined.append(cluster)


def _first(count, available):
    if count is not None and count > len(available):
        raise ValueError(f"`devices` must be at most the {len(available)} local devices ({', '.join(available)}); received devices={count}.")
    return available[:count]


def process_shares(dataset, replicas, processes, process_index):
    """This process's share of each batch of `dataset` (a `tf.data.Dataset` of global batches) for `replicas`
    devices in all over `processes` processes: of a batch's first `b - b mod replicas` examples, the
    `process_index`-th of `processes` equal contiguous parts; a batch of fewer than `replicas` examples is skipped."""
    import tensorflow as tf

    def size(element):
        return tf.shape(tf.nest.flatten(element)[0])[0]

    def share(element):
        part = (size(element) - size(element) % replicas) // processes
        return tf.nest.map_structure(lambda tensor: tensor[process_index * part:(process_index + 1) * part], element)

    def whole(element):  # `map` and `filter` pass a tuple's items as arguments
        return element[0] if len(element) == 1 else element

    return dataset.filter(lambda *element: size(whole(element)) >= replicas).map(lambda *element: share(whole(element)))


class _JaxDataParallel(keras.distribution.DataParallel):
    """`DataParallel` for batches the devices cannot share evenly (the module's docstring): run whole on each device
    in one process; in several, each process's share of the batch's first `b - b mod R` examples."""

    def get_data_layout(self, data_shape):
        if data_shape[0] % self.num_model_replicas and not self._is_multi_process:
            return keras.distribution.TensorLayout([None] * len(data_shape), self.device_mesh)
        return super().get_data_layout(data_shape)

    def distribute_dataset(self, dataset):
        if not self._is_multi_process:
            return dataset
        return process_shares(dataset, self.num_model_replicas, self.num_processes, self._process_id)
