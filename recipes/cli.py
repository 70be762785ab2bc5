"""The `zoo` command line (also `python -m zoo`).

    zoo list [PATTERN] [--task TASK]
    zoo describe NAME
    zoo train TASK [--model NAME] [--dataset NAME] [--epochs N] [--data-dir DIR] [--run-dir DIR] [--set key=value ...] [--json]
    zoo train TASK --help                 (every setting --set takes, with its default and meaning)
    zoo evaluate RUN_DIR [--data-dir DIR]
    zoo predict RUN_DIR [INPUT...] [--from-file FILE]   (texts, or image files for image-recognition runs;
                                                        FILE holds one a line, '-' is standard input)
    zoo translate RUN_DIR [SENTENCE...] [--from-file FILE] [--beam-size K]
    zoo inspect RUN_DIR [--port N]        (TensorBoard on a run, or on a directory of runs)
    zoo export RUN_DIR --format saved_model|tflite|onnx [--output PATH] [--data-dir DIR]

`--set` takes any field of the task's `Config` (`--set batch_size=32`), or
`model.ARG` for an argument of the model builder (`--set model.num_layers=4`).
Values are read as JSON where they parse (numbers, true/false, null, lists, objects), or as
Python's True, False and None; anything else is text.

Every command takes `--verbose` to show the backend's log lines, dropped otherwise. `--help`,
`list` and `describe` read the registry's catalog (`recipes.catalog`) without importing Keras,
so they answer at once; the other commands load the backend first.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import warnings
from pathlib import Path

from recipes import catalog

PYTHON_CONSTANTS = {"True": True, "False": False, "None": None}  # `--set horizontal_flip=False` is not the text "False"


def parse_assignments(assignments, config_class):
    """`["epochs=3", "model.num_layers=4"]` -> (config fields, model options)."""
    fields = {field.name for field in dataclasses.fields(config_class)}
    values, model_options = {}, {}
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        if not separator:
            raise ValueError(f"--set expects key=value; received {assignment!r}.")
        try:
            value = PYTHON_CONSTANTS[text] if text in PYTHON_CONSTANTS else json.loads(text)
        except json.JSONDecodeError:
            value = text
        if key.startswith("model."):
            model_options[key.removeprefix("model.")] = value
        elif key in fields:
            values[key] = value
        else:
            raise ValueError(
                f"Unknown setting {key!r}. Settings: {', '.join(sorted(fields))}, or model.ARG for a model argument."
            )
    return values, model_options


def settings_help(config_class):
    """The settings of `config_class` (a recipe's `Config`), one per line: name, default, meaning."""
    lines = [f"settings of {config_class.task} (--set KEY=VALUE; model.ARG for an argument of the model's builder):"]
    for name, default in config_class.defaults().items():
        lines.append(f"  {name:<22} {json.dumps(default):<28} {config_class.field_metadata(name).get('help', '')}")
    return "\n".join(lines)


class TaskSettingsHelp(argparse.Action):
    """`zoo train TASK --help`: the usual help, then the task's settings (its module is imported only then)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        task = getattr(namespace, "task", None)
        if task in catalog.task_names():
            from recipes.task import get_task

            print("\n" + settings_help(get_task(task).Config))
        parser.exit()


class CommandError(Exception):
    """A command that cannot do what was asked, for a reason its message gives (exit code 2, no traceback)."""


BACKEND_MODULES = r"(absl|jax|keras|onnx|onnxruntime|tensorflow|tf2onnx)(\.|$)"


@contextlib.contextmanager
def backend_logs_dropped():
    """Meanwhile, what the backend writes to standard error (its native log lines, its warnings) is dropped.

    TensorFlow's absl lines printed while its libraries load ("All log messages before
    absl::InitializeLog()", the CUDA probe) ignore `TF_CPP_MIN_LOG_LEVEL`, and TFLite prints from C++:
    all go to file descriptor 2, pointed at /dev/null here. Python's `sys.stderr`, where it wrote to that
    descriptor, writes to a copy of it meanwhile, so the command's own messages and warnings still show.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    python_stderr = sys.stderr
    python_stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        if _descriptor(python_stderr) == 2:
            # Not closed after: a logger created meanwhile may keep writing to it (the real standard error).
            sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=BACKEND_MODULES)
            yield
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


def _descriptor(stream):
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's capture, a closed or in-memory stream
        return None


def command_list(args):
    for name in catalog.list_models(args.pattern, task=args.task):
        print(name)


def command_describe(args):
    print(json.dumps(catalog.describe(args.name), indent=2))


def command_train(args):
    task, config = train_config(args)
    result = task.train(config)
    print(json.dumps({"run_dir": result.run_dir, **result.metrics}, indent=2) if args.json else train_summary(result))


def train_config(args):
    """`(task, its Config)` of a parsed `zoo train` command line, checked (nothing is trained)."""
    from recipes.task import get_task

    task = get_task(args.task)
    values, model_options = parse_assignments(args.set, task.Config)
    for flag in ("model", "dataset", "epochs", "data_dir", "run_dir", "direction"):
        if getattr(args, flag) is not None:
            option = f"--{flag.replace('_', '-')}"
            if flag not in {field.name for field in dataclasses.fields(task.Config)}:
                raise ValueError(f"{option} does not apply to {args.task}.")
            if flag in values:
                raise ValueError(f"{option} and --set {flag}=... both set {flag}; give one of them.")
            values[flag] = getattr(args, flag)
    if model_options:
        values["model_options"] = {**values.get("model_options", {}), **model_options}
    return task, task.Config(**values)


def train_summary(result):
    """A few lines on a finished run: its model, epochs and time, its test figures and its best epoch's."""
    metrics = result.metrics
    figures = {
        name: value for name, value in metrics.items()
        if name.startswith(("test_", "best_")) and isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    epochs = metrics.get("epochs_trained", metrics["epochs"])
    return "\n".join([
        f"{result.run_dir}: {metrics['model']}, {epochs} of {metrics['epochs']} epochs in {metrics['wall_time_seconds']:.0f} s",
        *(f"  {name:<28} {value:.4g}" for name, value in figures.items()),
        f"All metrics: {Path(result.run_dir) / 'metrics.json'} (or zoo train ... --json).",
    ])


def command_evaluate(args):
    from recipes.task import task_of_run

    print(json.dumps(task_of_run(args.run_dir).evaluate(args.run_dir, data_dir=args.data_dir), indent=2))


def read_inputs(arguments, files):
    """The inputs given as arguments, then the lines of each of `files` ("-": standard input), blank lines left out."""
    inputs = list(arguments)
    for name in files:
        if name == "-":
            lines = sys.stdin.read().splitlines()
        else:
            try:
                lines = Path(name).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"Cannot read inputs from {name}: {error}") from None
        inputs += [line for line in lines if line.strip()]
    if not inputs:
        raise ValueError("Give inputs as arguments, or --from-file FILE with one a line (FILE '-': standard input).")
    return inputs


def command_predict(args):
    from recipes.task import task_of_run

    inputs = read_inputs(args.inputs, args.from_file)
    for prediction in task_of_run(args.run_dir).predict(args.run_dir, inputs):
        print(json.dumps(prediction))


def command_translate(args):
    from recipes.task import task_of_run

    task = task_of_run(args.run_dir)
    if task.name != "translation":
        raise ValueError(f"{args.run_dir} is not a translation run; use `zoo predict`.")
    for translated in task.translate(args.run_dir, read_inputs(args.sentences, args.from_file), beam_size=args.beam_size):
        print(translated)


def command_export(args):
    from recipes.task import task_of_run

    exported = task_of_run(args.run_dir).export(args.run_dir, args.format, output=args.output, data_dir=args.data_dir)
    print(json.dumps(exported, indent=2))


def command_inspect(args):
    from recipes.reporting import tensorboard

    try:
        tensorboard.inspect(args.run_dir, port=args.port)
    except tensorboard.TensorBoardError as error:
        raise CommandError(error) from None


def make_parser():
    parser = argparse.ArgumentParser(prog="zoo", description="attention-zoo: build, train and inspect attention models.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show the backend's log lines (TensorFlow, XLA)")
    commands = parser.add_subparsers(dest="command", required=True)
    tasks = catalog.task_names()

    listing = commands.add_parser("list", help="list registered models", parents=[common])
    listing.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'transformer*'")
    listing.add_argument("--task", choices=catalog.model_tasks(), help="only models of this task")
    listing.set_defaults(handler=command_list)

    describe = commands.add_parser("describe", help="task, paper, configuration and size of a model", parents=[common])
    describe.add_argument("name")
    describe.set_defaults(handler=command_describe)

    train = commands.add_parser("train", help="train a recipe (`zoo train TASK --help` lists its settings)", add_help=False, parents=[common])
    train.add_argument("-h", "--help", action=TaskSettingsHelp, help="show this help and, after TASK, the task's settings")
    train.add_argument("task", choices=tasks)
    train.add_argument("--model", help="registered model name")
    train.add_argument(
        "--dataset",
        help="translation: multi30k or spa-eng; image-recognition: fashion_mnist, mnist or cifar10 "
        "(your own data: --set train_file=... / train_dir=..., see the README)",
    )
    train.add_argument("--epochs", type=int)
    train.add_argument("--data-dir", help="datasets directory (default: $ZOO_DATA_DIR)")
    train.add_argument("--run-dir", help="where the run is written (and resumed)")
    train.add_argument("--direction", help="translation only: source-target languages, e.g. de-en")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any Config field or model.ARG")
    train.add_argument("--json", action="store_true", help="print every metric as JSON instead of a summary")
    train.set_defaults(handler=command_train)

    evaluate = commands.add_parser("evaluate", help="test metrics of a finished run", parents=[common])
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data-dir")
    evaluate.set_defaults(handler=command_evaluate)

    predict = commands.add_parser("predict", help="predict with a finished run (texts, or image files)", parents=[common])
    predict.add_argument("run_dir")
    predict.add_argument("inputs", nargs="*", help="texts, or image files")
    predict.add_argument("--from-file", action="append", default=[], metavar="FILE", help="inputs, one a line ('-': standard input)")
    predict.set_defaults(handler=command_predict)

    translate = commands.add_parser("translate", help="translate sentences with a finished translation run", parents=[common])
    translate.add_argument("run_dir")
    translate.add_argument("sentences", nargs="*")
    translate.add_argument("--from-file", action="append", default=[], metavar="FILE", help="sentences, one a line ('-': standard input)")
    translate.add_argument("--beam-size", type=int, help="default: the run's beam_size; 1 is greedy")
    translate.set_defaults(handler=command_translate)

    export = commands.add_parser("export", help="write a finished run's model as a SavedModel, TFLite or ONNX file", parents=[common])
    export.add_argument("run_dir")
    export.add_argument("--format", required=True, help="saved_model, tflite or onnx")
    export.add_argument("--output", help="default: RUN_DIR/saved_model, RUN_DIR/model.tflite or RUN_DIR/model.onnx")
    export.add_argument("--data-dir", help="where the run's test data is (the export is checked on its first batch)")
    export.set_defaults(handler=command_export)

    inspect = commands.add_parser("inspect", help="where a run's logs are; TensorBoard on them (a free local port)", parents=[common])
    inspect.add_argument("run_dir", help="a run directory, or a directory of runs to compare")
    inspect.add_argument("--port", type=int, help="default: a free port")
    inspect.set_defaults(handler=command_inspect)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    with contextlib.nullcontext() if "--verbose" in argv else backend_logs_dropped():
        args = make_parser().parse_args(argv)
        try:
            args.handler(args)
        except (ValueError, FileNotFoundError, CommandError) as error:
            # Bad input (unknown model, bad setting, missing data): a message, not a traceback.
            print(f"zoo {args.command}: error: {error}", file=sys.stderr)
            return 2
    return 0
