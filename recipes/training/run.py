"""The run directory every recipe writes.

    RUN_DIR/
      config.json      the Config the run was started with
      metrics.json     final metrics
      history.csv      each epoch's logs (loss, metrics, throughput, epoch_seconds), across resumptions
      model.keras      the best model (by validation metric)
      best.json        the epoch and validation value of model.keras
      vocabulary.txt   tokenizer vocabulary, where the recipe has one (translation with separate
                       vocabularies: source_vocabulary.txt and target_vocabulary.txt)
      labels.txt       class names, one per line, in the order of the model's outputs
      train/ validation/   TensorBoard logs
      backup/          the state after the last complete epoch while a run is unfinished
                       (`recipes.training.backup`)
      lock             held by the process that trains the run (`RunDirectory.locked`)

A run directory that already holds a trained epoch resumes only with the same
config; anything else is refused, so a run is never overwritten by accident. One
whose start failed before any epoch was saved (a wrong data path, a model argument
the builder refused) is no run yet: another config starts it afresh. A path that
is a file, or a directory that holds files but no `config.json`, is refused too:
a run would overwrite or delete them (Keras' backup removes `backup/`).
"""

import contextlib
import csv
import dataclasses
import fcntl
import json
import math
import os
import socket
import zipfile
from pathlib import Path

import keras

import zoo
from recipes.training.backup import Backup


class RunError(ValueError):
    """A run directory cannot be used as asked."""


# Where, on how many devices and how verbosely a run trains, not what it trains: a resumed run may change them.
NOT_COMPARED_ON_RESUME = frozenset({"run_dir", "verbose", "distribution", "devices", "processes", "process_index", "coordinator"})


@dataclasses.dataclass(frozen=True)
class RunDirectory:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    config_file = property(lambda self: self.path / "config.json")
    metrics_file = property(lambda self: self.path / "metrics.json")
    model_file = property(lambda self: self.path / "model.keras")
    best_file = property(lambda self: self.path / "best.json")
    vocabulary_file = property(lambda self: self.path / "vocabulary.txt")
    labels_file = property(lambda self: self.path / "labels.txt")
    history_file = property(lambda self: self.path / "history.csv")
    backup_dir = property(lambda self: self.path / "backup")
    backup = property(lambda self: Backup(self.backup_dir))
    lock_file = property(lambda self: self.path / "lock")

    @contextlib.contextmanager
    def locked(self):
        """Holds `lock_file` (an advisory `flock`) while the block runs: a second process that trains into
        this directory gets a `RunError` naming the first. The operating system releases the lock when
        its process ends in any way, so a killed run leaves no stale lock."""
        self.refuse_foreign_path()
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a+", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise RunError(
                    f"{self.path} is being trained by {holder}. Wait until it ends, or train into another run directory."
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"process {os.getpid()} on {socket.gethostname()}\n")
            lock.flush()
            yield

    def start(self, config, defaults=None):
        """Creates the directory for `config` (a dict), or checks it resumes the same run.

        Returns whether it resumes: whether the directory holds a run that
        saved an epoch. Then its configuration must be `config`. A setting the
        stored configuration lacks (an option added to the recipe after the
        run started) counts as the same when `config` holds its value from
        `defaults`; the stored configuration is then completed.
        `NOT_COMPARED_ON_RESUME` may differ (a moved run directory), and take
        their new values. Without a saved epoch, `config` replaces any stored
        one, and the recipe writes its vocabularies and labels again.
        """
        self.refuse_foreign_path()
        resuming = self.config_file.exists() and self.saved_an_epoch()
        if resuming:
            previous = self.read_config()
            defaults = defaults or {}
            previous |= {
                key: config[key] for key in config.keys() - previous.keys() if key in defaults and config[key] == defaults[key]
            }
            compared = (config.keys() | previous.keys()) - NOT_COMPARED_ON_RESUME
            changed = sorted(key for key in compared if config.get(key) != previous.get(key))
            if changed:
                raise RunError(
                    f"{self.path} holds a run with another configuration (differs in: {', '.join(changed)}). "
                    "Use another run directory, or the same settings to resume it."
                )
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.config_file, config)
        return resuming

    def refuse_foreign_path(self):
        """Raises `RunError` if the path is a file, or a non-empty directory without `config.json`."""
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"The run directory {self.path} is a file; give a new or empty directory, or a run's.")
        if self.path.is_dir() and not self.config_file.exists() and not all(map(self.is_leftover, self.path.iterdir())):
            raise RunError(
                f"{self.path} holds files but no run ({self.config_file.name} is missing); a run there would "
                "overwrite or delete them. Give a new or empty directory, or a run's."
            )

    def is_leftover(self, path):
        """Whether `path` is what a run leaves before its `config.json` exists: its lock, a write cut short."""
        return path == self.lock_file or path.name.endswith(".partial")

    def saved_an_epoch(self):
        """Whether training saved anything: a logged epoch, a backup or a model."""
        return (
            self.model_file.is_file()
            or self.backup_dir.is_dir()
            or (self.history_file.is_file() and bool(self.read_history()))
        )

    def read_config(self):
        config = read_json(self.config_file, what="run configuration")
        if not isinstance(config, dict):
            raise RunError(f"{self.config_file} must hold a JSON object of settings; it holds {type(config).__name__}.")
        return config

    def stored_config(self, config_class):
        """The run's `config_class` (a recipe's `Config`) from `config_file`.

        A run of another task's model, or unknown settings, give a `RunError`.
        """
        config = self.read_config()
        if config.get("model") not in zoo.list_models(task=config_class.task):
            raise RunError(f"{self.path} is not a {config_class.task} run: its model is {config.get('model')!r}.")
        fields = {field.name for field in dataclasses.fields(config_class)}
        unknown = sorted(config.keys() - fields)
        if unknown:
            raise RunError(
                f"{self.config_file} has settings the recipe does not know: {', '.join(unknown)}. "
                f"Settings: {', '.join(sorted(fields))}."
            )
        return config_class(**config)

    def keep_lines(self, path, learn, resuming):
        """The lines of `path` (a vocabulary, class names): `learn()` written there on a fresh run;
        a resumed run reads back the ones its weights were trained with."""
        if not resuming:
            write_lines(path, learn())
        return read_lines(path)

    def read_metrics(self):
        return read_json(self.metrics_file, what="run metrics")

    def read_history(self):
        """`{name: [value of each epoch]}` from `history.csv`, over every epoch the run trained.

        An epoch logged twice (the process stopped after logging it, before its
        backup, and it ran again) counts once, with the values of its last run.
        A row that is not all numbers gives a `RunError` naming its line. "NA" in a `val_`
        column, which Keras' `CSVLogger` adds to a run without validation, is no value: a
        name without a value in every epoch is left out.
        """
        if not self.history_file.is_file():
            raise RunError(f"Missing training history {self.history_file}.")
        rows = {}
        with open(self.history_file, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            for row in reader:
                try:
                    rows[int(row["epoch"])] = {
                        name: float(value) for name, value in row.items()
                        if name != "epoch" and not (value == "NA" and name.startswith("val_"))
                    }
                except (KeyError, TypeError, ValueError):
                    raise RunError(
                        f"{self.history_file}, line {reader.line_num}: not an epoch number and one number per column "
                        f"of the header {reader.fieldnames} (cut short or edited?): {row!r}. Fix or delete that line."
                    ) from None
        epochs = sorted(rows)
        names = [name for name in rows[epochs[0]] if all(name in rows[epoch] for epoch in epochs)] if epochs else []
        return {name: [rows[epoch][name] for epoch in epochs] for name in names}

    def trained(self):
        """Whether training ended (all its epochs, or stopped early for `patience`): the best model is saved and
        the backup removed, which happens only when `fit` returns (a run stopped while it was being evaluated
        then resumes with the evaluation, not with training). The backup directory exists from the first
        epoch's end, before any best model is saved."""
        return self.model_file.is_file() and self.history_file.is_file() and not self.backup_dir.exists()

    def best_saved_value(self, monitor, mode):
        """The `monitor` value of the saved best model (`mode`: "max" or "min"): from `best_file`, or
        the best in the history where a process was killed between saving the first model and its
        record (`save_best_model`); None before any is saved."""
        if not self.model_file.is_file():
            return None
        if self.best_file.is_file():
            record = read_json(self.best_file, what="best-model record")
            if monitor not in record:
                recorded = sorted(set(record) - {"epoch"})
                raise RunError(
                    f"{self.best_file} records the best model by {recorded}, but this run picks it by {monitor!r}: the "
                    "run was started by a version of its recipe that monitored another metric. Train into a new run "
                    "directory (or delete this one)."
                )
            return record[monitor]
        values = self.read_history().get(monitor) if self.history_file.is_file() else None
        return (max if mode == "max" else min)(values) if values else None

    def save_best_model(self, model, record):
        """Saves `model` as `model_file` and `record` (its epoch and value) as `best_file`.

        Both are written to temporary files first and then replace the old
        ones one right after the other, so a process killed while saving leaves
        the previous model and its record.
        """
        partial_record = _write_partial_json(self.best_file, record)
        partial_model = self.model_file.with_name("model.partial.keras")  # Keras saves only to *.keras
        model.save(partial_model)
        os.replace(partial_model, self.model_file)
        os.replace(partial_record, self.best_file)

    def write_metrics(self, metrics):
        write_json(self.metrics_file, metrics)

    def load_model(self):
        """The saved best model; a missing, truncated or foreign file gives a `RunError` naming it."""
        self.require(self.model_file)
        if not zipfile.is_zipfile(self.model_file):
            raise RunError(f"{self.model_file} is not a .keras archive (a zip file): it was cut short or replaced.")
        try:
            return keras.saving.load_model(self.model_file)
        except Exception as error:
            raise RunError(f"Cannot load {self.model_file}: {error}") from error

    def files_state(self):
        """`(name, size, modification time)` of each file directly in the directory (none when there is no
        directory): it changes when any of them is written."""
        if not self.path.is_dir():
            return ()
        stats = {path.name: path.stat() for path in self.path.iterdir() if path.is_file()}
        return tuple(sorted((name, stat.st_size, stat.st_mtime_ns) for name, stat in stats.items()))

    def require(self, *files):
        """Raises `RunError` naming the first of `files` that is missing."""
        for file in files:
            if not file.exists():
                raise RunError(f"{file} is missing: {self.path} is not a finished run directory.")


def write_lines(path, lines):
    Path(path).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def read_lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


def write_json(path, data):
    """Writes `data` to `path` through a temporary file, so a killed process leaves the old file or the new one."""
    os.replace(_write_partial_json(path, data), path)


def _write_partial_json(path, data):
    """Writes `data` beside `path`, as `<name>.partial`, for `os.replace` onto `path`; returns that file.

    Strict JSON: a number that is not finite is a `RunError` naming its key, not a bare `NaN` in the file.
    """
    path = Path(path)
    non_finite = list(non_finite_entries(data))
    if non_finite:
        raise RunError(f"Not writing {path}: {', '.join(non_finite)} not finite (the run diverged).")
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    return partial


def non_finite_entries(data, name=""):
    """The keys (`a.b[2]`) of the numbers in `data` (nested dicts and lists) that are NaN or infinite."""
    if isinstance(data, float) and not math.isfinite(data):
        yield name or "the value"
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from non_finite_entries(value, f"{name}.{key}" if name else str(key))
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            yield from non_finite_entries(value, f"{name}[{index}]")


def read_json(path, what="file"):
    path = Path(path)
    if not path.is_file():
        raise RunError(f"Missing {what} {path}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunError(f"{path} is not valid JSON ({error}).") from None
