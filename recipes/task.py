"""One training flow for every recipe: the shared settings (`BaseConfig`) and the template (`Task`).

A recipe is a `Task` subclass that fills in what differs between tasks
through small hooks; the flow itself is written once here:

    train:    run directory -> seed -> load_data -> prepare (vocabularies, labels, ... in the run
              directory) -> make_dataset -> build_model -> compile_model -> fit (callbacks, attention
              probes, resumption; on one device or data parallel) -> best model -> test_report -> metrics.json
    load_run: stored config -> model.keras -> load_prepared
    evaluate: load_run -> test split -> evaluation_report
    export:   load_run -> first test batch -> recipes.export (written, run and compared with Keras)
    predict:  check_inputs -> load_run -> predictions

Each setting of a `Config` declares its check and its help beside it (`setting`);
`BaseConfig.__post_init__` runs every check once, then the task's rules between
settings (`check_combination`).

Tasks are the tasks of the zoo's registry (`zoo.task_of`) whose recipe module
exists: task "text-classification" is `recipes.text_classification`, whose
`TASK` is its `Task`. A new task needs only its module (and its models).
"""

import dataclasses
import functools
import importlib
from pathlib import Path
from typing import ClassVar

import keras
import numpy as np

import zoo
from layers.validation import check_choice, check_int, check_non_negative_int, check_number, check_positive_int, check_text
from recipes import export
from recipes.catalog import recipe_module_name, task_names
from recipes.training.callbacks import fit
from recipes.training.distribution import DISTRIBUTIONS, check_placement, distributed
from recipes.training.epochs import EpochOrder
from recipes.training.precision import PRECISIONS, dtype_policy, float32_twin, loss_scaled
from recipes.training.run import RunDirectory


# ---------------------------------------------------------------- settings and their checks


def setting(default=None, check=None, *check_args, help="", factory=None, **check_options):
    """A `Config` field: its default (`factory` for a mutable one), its check and one line of help.

    The check is a function of `layers.validation` called as
    `check(*check_args, **check_options, NAME=value)`, e.g.
    `setting(None, check_number, "(0, inf)", optional=True)`. A subclass may declare
    the field again with another default only (`model: str = "..."`): the check and
    help of the first declaration still apply.
    """
    metadata = {"check": check and functools.partial(check, *check_args, **check_options), "help": help}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def check_model_task(model, task):
    """Raises `ValueError` unless `model` is a registered model of `task`; the message lists those."""
    choices = zoo.list_models(task=task)
    if model not in choices:
        raise ValueError(f"Unknown {task} model {model!r}; choose one of {choices}.")


@dataclasses.dataclass
class BaseConfig:
    """The settings every recipe has. A task's `Config` subclasses it, adds its own settings and
    declares `model`, `batch_size`, `epochs` and `run_dir` again with its defaults."""

    task: ClassVar[str]
    # `{model argument: what decides it}` for the arguments the recipe sets from the data.
    recipe_model_options: ClassVar[dict] = {}

    model: str = setting(None, help="the registered model to train (`zoo list --task TASK`)")
    model_options: dict = setting(factory=dict, help="arguments of the model's builder (--set model.ARG=VALUE)")
    data_dir: str = setting(None, check_text, optional=True, help="datasets directory laid out like shared/datasets; None: $ZOO_DATA_DIR")
    max_train_examples: int = setting(None, check_positive_int, optional=True, help="train on the first N training examples; None: all")
    batch_size: int = setting(64, check_positive_int, help="examples per training step")
    epochs: int = setting(3, check_positive_int, help="passes over the training data")
    learning_rate: float = setting(None, check_number, "(0, inf)", optional=True, help="peak learning rate; None: the recipe's default")
    precision: str = setting(
        "float32", check_choice, PRECISIONS,
        help="float32, or mixed precision: 16-bit computation on float32 weights, mixed_float16 with loss scaling "
        "(recipes.training.precision)",
    )
    distribution: str = setting(
        None, check_choice, DISTRIBUTIONS, optional=True,
        help="None: one device; data_parallel: a replica of the model on each local device (`devices`), each batch "
        "split among them; batch_size stays the global batch (recipes.training.distribution)",
    )
    devices: int = setting(None, check_positive_int, optional=True, help="data_parallel's local devices; None: all")
    processes: int = setting(
        None, check_positive_int, optional=True,
        help="data_parallel over several processes (hosts), every device of each; None: this process alone",
    )
    process_index: int = setting(None, check_non_negative_int, optional=True, help="this process among `processes`: 0 ... processes-1; 0 coordinates")
    coordinator: str = setting(None, check_text, optional=True, help="HOST:PORT on which process 0 listens, for `processes`")
    attention_probes: int = setting(4, check_non_negative_int, help="validation examples whose attention is logged each epoch; 0: none")
    patience: int = setting(None, check_positive_int, optional=True, help="stop once this many epochs in a row did not improve the validation metric; None: off")
    seed: int = setting(1337, check_int, help="seed of the weights, the data order and the augmentation")
    run_dir: str = setting("runs/run", check_text, help="where the run is written, and resumed")
    verbose: int = setting(
        None, check_choice, (0, 1, 2), optional=True,
        help="Keras' fit verbosity: 0 silent, 1 progress bar, 2 a line per epoch; None: 1 on a terminal, else 2",
    )

    def __post_init__(self):
        check_model_task(self.model, self.task)
        for field in dataclasses.fields(self):
            check = self.field_metadata(field.name).get("check")
            if check is not None:
                check(**{field.name: getattr(self, field.name)})
        refuse_recipe_model_options(self.model_options, self.model_options_set_by_recipe())
        check_placement(self.distribution, self.devices, self.processes, self.process_index, self.coordinator)
        self.check_combination()

    def check_combination(self):
        """The task's rules between settings, and defaults that depend on other settings."""

    def model_options_set_by_recipe(self):
        """`{model argument: what decides it}`: the model arguments the recipe sets from the data."""
        return self.recipe_model_options

    @classmethod
    def field_metadata(cls, name):
        """The check and help of setting `name`, from its first declaration on (a subclass may redeclare its default)."""
        metadata = {}
        for klass in reversed(cls.__mro__):
            field = getattr(klass, "__dataclass_fields__", {}).get(name)
            if field is not None:
                metadata |= {key: value for key, value in field.metadata.items() if value is not None}
        return metadata

    @classmethod
    def defaults(cls):
        """`{setting: default}` (`default_factory` settings called)."""
        return {
            field.name: field.default_factory() if field.default is dataclasses.MISSING else field.default
            for field in dataclasses.fields(cls)
        }

    def model_config(self):
        """The model's arguments: its registered defaults, then `model_options`."""
        return zoo.default_config(self.model) | self.model_options

    def to_dict(self):
        return dataclasses.asdict(self)


def refuse_recipe_model_options(model_options, recipe_options):
    """Raises `ValueError` unless `model_options` is a dict that leaves the recipe's own model arguments alone.

    `recipe_options`: `{argument: where the recipe takes it from, or what to set instead}`.
    """
    if not isinstance(model_options, dict):
        raise ValueError(
            f"`model_options` must be a dict of model arguments (on the command line: --set model.ARG=VALUE); "
            f"received {model_options!r}."
        )
    clashes = sorted(set(model_options) & set(recipe_options))
    if clashes:
        raise ValueError(f"model.{clashes[0]} cannot be set: {recipe_options[clashes[0]]}.")


# ---------------------------------------------------------------- the flow


@dataclasses.dataclass
class Result:
    """What a recipe's `train` returns: the run directory and its `metrics.json` content."""

    run_dir: str
    metrics: dict


class Task:
    """The template of every recipe: `train`, `load_run`, `evaluate`, `predict`.

    A subclass sets `Config` (a `BaseConfig`), `monitor` (the validation metric
    that picks the best epoch, maximized unless `monitor_mode` is "min") and `examples` (what the metrics call
    an example: `train_<examples>`, `test_<examples>`), and defines:

    * `load_data(config)`: `{"train", "validation", "test"}` splits, each with `len` and `take(indices)`;
    * `prepare(run, splits, config, *, resuming)`: writes what the run keeps beside the model
      (vocabularies, class names; a resumed run keeps its own) and returns it as `prepared`;
    * `load_prepared(run, config)`: that, read back from a finished run;
    * `make_dataset(split, prepared, config, *, order=None)`: a `tf.data` pipeline of `(inputs, targets)`; for
      training, `order` (`recipes.training.epochs.EpochOrder`) gives the examples in each epoch's order
      (and random keys for augmentation), so a resumed run sees the data an uninterrupted one would;
    * `build_model(config, prepared, train)`: the zoo model sized to the data, then `config.model_options`;
    * `compile_options(config, steps_per_epoch)`: `model.compile`'s optimizer, loss and metrics;
    * `test_report(model, test, prepared, config)`: the test metrics `train` writes into `metrics.json`;
    * `predictions(model, inputs, prepared, config)`: one dict per input of `predict`;

    and overrides the hooks below where the defaults do not fit.
    """

    Config: ClassVar[type]
    monitor: ClassVar[str] = "val_accuracy"
    monitor_mode: ClassVar[str] = "max"  # or "min", for a loss
    examples: ClassVar[str] = "examples"
    exported_inputs: ClassVar[str] = ""  # what an exported model's inputs are (`export`)

    @property
    def name(self):
        return self.Config.task

    def zoo_model(self, config, **sized_to_data):
        """`config.model` from the zoo with the arguments the data decides, then `config.model_options`."""
        return zoo.build(config.model, **(sized_to_data | config.model_options))

    # ---------------------------------------------------------------- hooks

    def attention_loggers(self, run, validation, prepared, config):
        """`[AttentionMapLogger]` of the first `config.attention_probes` examples of `validation`; by default none."""
        return []

    def fit_options(self, run, splits, prepared, config, train_data):
        """Further arguments of `recipes.training.callbacks.fit`: epoch metrics, tokens per epoch, loggers (of the
        validation examples; of the training examples in a run without validation)."""
        probed = splits["validation"] if len(splits["validation"]) else splits["train"]
        return {"loggers": self.attention_loggers(run, probed, prepared, config) if config.attention_probes else []}

    def evaluation_report(self, model, test, prepared, config):
        """The test metrics `evaluate` returns; by default those of `test_report`."""
        return self.test_report(model, test, prepared, config)

    def log_test_report(self, run, report, config):
        """Writes parts of the test report to TensorBoard (a confusion matrix, say)."""

    def run_metrics(self, config, splits, prepared, history):
        """Further entries of `metrics.json`: the data it was trained on, per-epoch figures."""
        return {}

    def throughput(self, history):
        """`{"train_<examples>_per_second": the median over epochs}`: an epoch slowed by other work on
        the machine moves it little."""
        return {f"train_{self.examples}_per_second": float(np.median(history["examples_per_second"]))}

    def test_split(self, config, model, prepared):
        """The examples `evaluate` scores."""
        return self.load_data(config)["test"]

    def check_inputs(self, inputs):
        """The inputs of `predict`, checked before any run is loaded."""
        return inputs

    def run_files(self, run, config):
        """The files besides `model.keras` a finished run must hold."""
        return []

    def exportable_model(self, model):
        """The loaded model as `export` writes it: the same outputs, in layers every format holds; by default itself."""
        return model

    def check_loaded(self, run, model, prepared):
        """Raises `RunError` where what `load_prepared` read does not fit the loaded model."""

    # ---------------------------------------------------------------- template methods

    def compiled_model(self, config, prepared, train, steps_per_epoch):
        """`build_model` in `config.precision` (a mixed-precision model computes in 16 bits on float32 weights),
        then `compile_model`."""
        with dtype_policy(config.precision):
            model = self.build_model(config, prepared, train)
        self.compile_model(model, config, steps_per_epoch)
        return model

    def compile_model(self, model, config, steps_per_epoch):
        """`model.compile` with the task's `compile_options`; a float16 model's optimizer scales the loss."""
        options = self.compile_options(config, steps_per_epoch)
        model.compile(**options | {"optimizer": loss_scaled(options["optimizer"], config.precision)})

    def train(self, config):
        """Trains `config.model` and writes the run directory; resumes an unfinished run.

        Returns:
            `Result` with the run directory and the metrics written to `metrics.json`:
            the test report, the best epoch's validation value (training loss without validation), losses, epochs, wall time,
            throughput. A finished run with the same config is not retrained: its result
            is returned. Another process training into the same run directory is a `RunError`.
        """
        placement = distributed(config.distribution, config.devices, config.processes, config.process_index, config.coordinator)  # refused before anything is written
        run = RunDirectory(config.run_dir)
        with run.locked():  # one process trains a run directory at a time
            resuming = run.start(config.to_dict(), defaults=type(config).defaults())
            if run.metrics_file.exists():
                print(f"{run.path} is a finished run with this configuration; not retraining.")
                return Result(str(run.path), run.read_metrics())

            keras.utils.set_random_seed(config.seed)  # same config, same weights and data order
            splits = self.load_data(config)
            prepared = self.prepare(run, splits, config, resuming=resuming)
            order = EpochOrder(config.seed)
            train_data = self.make_dataset(splits["train"], prepared, config, order=order)
            # The best epoch: `monitor` on the validation split; in a run without one (a task's `validation_fraction`
            # of 0, training on the whole training split as the UCR benchmarks of Ismail Fawaz et al. 2019 do), the
            # lowest training loss.
            validating = len(splits["validation"]) > 0
            validation_data = self.make_dataset(splits["validation"], prepared, config) if validating else None
            monitor, mode = (self.monitor, self.monitor_mode) if validating else ("loss", "min")
            with placement:  # one device, or data parallel on several
                model = self.compiled_model(config, prepared, splits["train"], steps_per_epoch=int(train_data.cardinality()))
                fit(
                    model, train_data, validation_data, run, config, monitor=monitor, mode=mode, epoch_order=order,
                    examples_per_epoch=len(splits["train"]), **self.fit_options(run, splits, prepared, config, train_data),
                )
            history = run.read_history()

            best = run.load_model()
            report = self.test_report(best, splits["test"], prepared, config)
            self.log_test_report(run, report, config)
            metrics = {
                "model": config.model,
                "parameters": best.count_params(),
                **report,
                best_metric_name(monitor): run.best_saved_value(monitor, mode),
                "train_loss_per_epoch": history["loss"],
                "epochs": config.epochs,
                "epochs_trained": len(history["loss"]),
                f"train_{self.examples}": len(splits["train"]),
                f"test_{self.examples}": len(splits["test"]),
                "wall_time_seconds": sum(history["epoch_seconds"]),
                **self.throughput(history),
                **self.run_metrics(config, splits, prepared, history),
            }
            run.write_metrics(metrics)
            return Result(str(run.path), metrics)

    def load_run(self, run_dir):
        """`(config, model, prepared)` of a finished run directory."""
        run = RunDirectory(run_dir)
        config = run.stored_config(self.Config)
        run.require(run.model_file, *self.run_files(run, config))
        model = run.load_model()
        prepared = self.load_prepared(run, config)
        self.check_loaded(run, model, prepared)
        return config, model, prepared

    def loaded_run(self, run_dir):
        """`load_run(run_dir)`, the same objects again while no file of the run changes (for the last two runs):
        `evaluate`, `predict` and `translate` called again reuse the model and the graphs traced for it (loading and
        tracing take seconds). What it returns is read, never changed."""
        return _loaded_run(self, str(run_dir), RunDirectory(run_dir).files_state())

    def _with_test_split(self, loaded_run, data_dir):
        """`(config, model, prepared, test)` of a loaded run, its test split read from `data_dir` when one is given."""
        config, model, prepared = loaded_run
        if data_dir is not None:
            config = dataclasses.replace(config, data_dir=data_dir)
        return config, model, prepared, self.test_split(config, model, prepared)

    def evaluate(self, run_dir, data_dir=None):
        """The test metrics of a finished run's best model; `data_dir` replaces the run's data directory."""
        config, model, prepared, test = self._with_test_split(self.loaded_run(run_dir), data_dir)
        return {**self.evaluation_report(model, test, prepared, config), f"test_{self.examples}": len(test)}

    def export(self, run_dir, format, output=None, data_dir=None):
        """Writes a finished run's model as `format` (`recipes.export.FORMATS`), checked on its first test batch.

        A mixed-precision run is written as its `float32_twin`, and compared with that.

        Returns:
            `{"path", "format", "inputs", "largest_difference", "note"}`: where it went, the inputs'
            shapes and types, the artifact's largest difference from Keras, and what its inputs are.
        """
        # A model of its own, not `loaded_run`'s: the converters add to the model they convert.
        config, model, prepared, test = self._with_test_split(self.load_run(run_dir), data_dir)
        note = self.exported_inputs
        if config.precision != "float32":  # TFLite and ONNX Runtime take float32 graphs
            model = float32_twin(model)
            note += f" It computes in float32, on the weights the run trained in {config.precision}."
        inputs, _ = next(iter(self.make_dataset(test, prepared, config)))
        sample = keras.tree.map_structure(keras.ops.convert_to_numpy, inputs)
        path = Path(output) if output is not None else export.default_path(run_dir, format)
        difference = export.export_model(self.exportable_model(model), format, path, sample, reference=model)
        return {
            "path": str(path),
            "format": format,
            "inputs": {tensor.name: f"{tensor.dtype}{list(tensor.shape)}" for tensor in model.inputs},
            "largest_difference": difference,
            "note": note,
        }

    def predict(self, run_dir, inputs):
        """What a finished run predicts for each input: one dict per input."""
        inputs = self.check_inputs(inputs)
        config, model, prepared = self.loaded_run(run_dir)
        return self.predictions(model, inputs, prepared, config)


def best_metric_name(monitor):
    """The name `metrics.json` gives the best epoch's `monitor` value: `best_validation_accuracy` for
    "val_accuracy", `best_train_loss` for "loss"."""
    return f"best_validation_{monitor.removeprefix('val_')}" if monitor.startswith("val_") else f"best_train_{monitor}"


@functools.lru_cache(maxsize=2)
def _loaded_run(task, run_dir, files_state):
    return task.load_run(run_dir)


# ---------------------------------------------------------------- the registered tasks


def get_task(name):
    """The `Task` of the task `name`; `ValueError` listing the tasks for another name."""
    names = task_names()
    if name not in names:
        raise ValueError(f"Unknown task {name!r}; choose one of {names}.")
    return importlib.import_module(recipe_module_name(name)).TASK


def task_of_run(run_dir):
    """The `Task` that wrote `run_dir`, from the task of its model."""
    model = RunDirectory(run_dir).read_config().get("model")
    if model not in zoo.list_models():
        raise ValueError(f"{run_dir}: model {model!r} belongs to no recipe ({', '.join(task_names())}).")
    return get_task(zoo.task_of(model))
