"""The `zoo` command line, in-process and through `python -m zoo`."""

import dataclasses
import io
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import onnxruntime
import pytest

import zoo
from recipes import image_recognition, text_classification, translation
from recipes.cli import main, parse_assignments
from recipes.task import get_task, task_names


def test_list_and_describe(capsys):
    assert main(["list", "transformer_classifier*"]) == 0
    assert capsys.readouterr().out.split() == ["transformer_classifier_small", "transformer_classifier_tiny"]
    assert main(["describe", "bilstm_attention"]) == 0
    description = json.loads(capsys.readouterr().out)
    assert description["task"] == "text-classification" and description["parameters"] > 0


@pytest.mark.parametrize("task", task_names())
def test_train_task_help_lists_every_setting_with_its_default_and_meaning(capsys, task):
    with pytest.raises(SystemExit) as exit_:
        main(["train", task, "--help"])
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    config_class = get_task(task).Config
    listed = {line.split()[0]: line for line in lines[lines.index(next(l for l in lines if l.startswith("settings of"))) + 1 :]}
    assert list(listed) == [field.name for field in dataclasses.fields(config_class)]
    for name, default in config_class.defaults().items():
        help_ = config_class.field_metadata(name)["help"]
        assert help_ and re.fullmatch(rf"  {name} +{re.escape(json.dumps(default))} +{re.escape(help_)}", listed[name]), listed[name]


def test_bad_input_gives_a_message_and_exit_code_2(capsys, tmp_path):
    assert main(["describe", "bilstm_atention"]) == 2
    assert "Did you mean: bilstm_attention" in capsys.readouterr().err
    assert main(["train", "text-classification", "--set", "bacth_size=3"]) == 2
    assert "Unknown setting 'bacth_size'" in capsys.readouterr().err
    assert main(["evaluate", "/nonexistent/run"]) == 2
    assert "Missing run configuration" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_code:  # argparse's exit: an empty list would look like an answer
        main(["list", "--task", "text_classification"])
    assert exit_code.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'text_classification'" in error and "text-classification" in error.split("choose from")[1]
    assert main(["train", "image-recognition", "--epochs", "3", "--set", "epochs=30"]) == 2
    assert "--epochs and --set epochs=... both set epochs; give one of them." in capsys.readouterr().err
    assert main(["train", "image-recognition", "--direction", "de-en"]) == 2
    assert "--direction does not apply to image-recognition" in capsys.readouterr().err
    run_dir = tmp_path / "run"
    assert main(["train", "translation", "--direction", "fr-en", "--run-dir", str(run_dir)]) == 2
    assert "Unknown translation direction 'fr-en'; choose one of ['de-en', 'en-de']" in capsys.readouterr().err
    assert not run_dir.exists()  # refused before the run directory is written


def test_train_evaluate_predict(tmp_path, data_dir, capsys, monkeypatch):
    run_dir = str(tmp_path / "run")
    argv = ["train", "text-classification", "--model", "transformer_classifier_tiny", "--epochs", "1",
            "--data-dir", data_dir, "--run-dir", run_dir, "--set", "max_train_examples=300",
            "--set", "vocabulary_size=500", "--set", "verbose=0", "--set", "model.num_layers=1"]
    assert main(argv) == 0
    summary = capsys.readouterr().out.splitlines()  # a short summary; every metric is in metrics.json
    trained = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary[0] == f"{run_dir}: transformer_classifier_tiny, 1 of 1 epochs in {trained['wall_time_seconds']:.0f} s"
    assert f"  {'test_accuracy':<28} {trained['test_accuracy']:.4g}" in summary
    assert summary[-1].startswith(f"All metrics: {run_dir}/metrics.json") and len(summary) < 10
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model_options"] == {"num_layers": 1} and config["max_train_examples"] == 300

    assert main(["evaluate", run_dir]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == pytest.approx(trained["test_accuracy"], abs=1e-6)
    assert main(["predict", run_dir, "a fine film", "a dreadful mess"]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["text"] for p in predictions] == ["a fine film", "a dreadful mess"]
    (tmp_path / "texts.txt").write_text("a fine film\n\na dreadful mess\n", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a dreadful mess\n"))
    assert main(["predict", run_dir, "a fine film", "--from-file", str(tmp_path / "texts.txt"), "--from-file", "-"]) == 0
    from_files = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["text"] for p in from_files] == ["a fine film", "a fine film", "a dreadful mess", "a dreadful mess"]
    for prediction, expected in zip(from_files, predictions[:1] + predictions + predictions[1:]):
        assert prediction["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
    assert main(["predict", run_dir]) == 2
    assert "Give inputs as arguments, or --from-file FILE" in capsys.readouterr().err
    assert main(["predict", run_dir, "--from-file", str(tmp_path / "none.txt")]) == 2
    assert "Cannot read inputs from " in capsys.readouterr().err
    assert main(["translate", run_dir, "a fine film"]) == 2
    assert f"{run_dir} is not a translation run; use `zoo predict`." in capsys.readouterr().err

    # The exported ONNX model answers as the run's model.keras, on ids other than the batch the export checked.
    assert main(["export", run_dir, "--format", "onnx"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["path"] == f"{run_dir}/model.onnx" and exported["largest_difference"] < 1e-4
    assert "vocabulary.txt" in exported["note"] and exported["inputs"] == {"token_ids": "int32[None, None]"}
    vocabulary = len((tmp_path / "run" / "vocabulary.txt").read_text(encoding="utf-8").splitlines())
    ids = np.random.default_rng().integers(0, vocabulary, size=(3, 64)).astype("int32")
    session = onnxruntime.InferenceSession(exported["path"], providers=["CPUExecutionProvider"])
    expected = keras.ops.convert_to_numpy(keras.saving.load_model(f"{run_dir}/model.keras")(ids))
    np.testing.assert_allclose(session.run(None, {"token_ids": ids})[0], expected, atol=1e-4, rtol=1e-4)
    assert main(["export", run_dir, "--format", "onnx"]) == 2  # never overwrites
    assert "model.onnx exists" in capsys.readouterr().err


def test_python_dash_m_zoo_runs_the_cli():
    completed = subprocess.run([sys.executable, "-m", "zoo", "list"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "bilstm_attention" in completed.stdout.split()


QUICK_COMMANDS = [["--help"], ["list", "*resnet*", "--task", "image-recognition"], ["describe", "vit_tiny_patch16"]]


def test_help_list_and_describe_answer_from_the_catalog_without_importing_keras():
    """They read recipes/catalog.json; what they print is what the live registry says (test_zoo checks the file)."""
    probe = (
        "import contextlib, io, json, sys\n"
        "from recipes.cli import main\n"
        "outputs = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "    outputs.append(out.getvalue())\n"
        "print(json.dumps({'outputs': outputs, 'loaded': sorted({'keras', 'tensorflow', 'jax', 'zoo'} & set(sys.modules))}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe, json.dumps(QUICK_COMMANDS)], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["loaded"] == []
    help_text, listed, described = result["outputs"]
    assert help_text.startswith("usage: zoo") and "describe" in help_text
    assert listed.split() == zoo.list_models("*resnet*", task="image-recognition")
    assert json.loads(described) == json.loads(json.dumps(zoo.describe("vit_tiny_patch16")))


def test_commands_drop_the_backends_log_lines_unless_verbose(tmp_path):
    """TensorFlow prints absl lines (CUDA probe, CPU features) while it loads; a command's stderr holds its own message only."""
    command = [sys.executable, "-c", "import sys; from recipes.cli import main; sys.exit(main())", "evaluate", str(tmp_path / "missing")]
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    assert quiet.returncode == 2
    assert quiet.stderr.splitlines() == [f"zoo evaluate: error: Missing run configuration {tmp_path / 'missing' / 'config.json'}."]


def test_inspect_lists_the_logs_serves_them_and_stops_on_ctrl_c(tmp_path, capsys):
    import signal
    import urllib.request

    import tensorflow as tf

    assert main(["inspect", str(tmp_path)]) == 2
    assert "holds no TensorBoard logs" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")
    for log_dir in ("train", "attention"):
        with tf.summary.create_file_writer(str(tmp_path / log_dir)).as_default():
            tf.summary.scalar("epoch_loss", 1.0, step=0)

    # As from a terminal, whose Ctrl-C reaches the command: a child inherits an ignored SIGINT, and the suite's
    # process can be left ignoring it at the system level by what ran in it before (the command then never stopped).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "zoo", "inspect", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].startswith(f"{tmp_path / 'attention'}: attention maps")
        assert lines[1].startswith(f"{tmp_path / 'train'}: training loss")
        assert lines[2].startswith("TensorBoard: http://127.0.0.1:")
        url = lines[2].split()[1]
        with urllib.request.urlopen(url + "data/logdir", timeout=30) as response:
            assert json.loads(response.read())["logdir"] == str(tmp_path)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()


@pytest.mark.parametrize("ignores_sigterm", [False, True])
def test_stop_tensorboard_kills_a_server_that_ignores_sigterm(ignores_sigterm):
    import signal

    from recipes.reporting.tensorboard import stop_tensorboard

    handler = "signal.SIG_IGN" if ignores_sigterm else "signal.SIG_DFL"
    server = f"import signal, time; signal.signal(signal.SIGTERM, {handler}); print('up', flush=True); time.sleep(120)"
    process = subprocess.Popen([sys.executable, "-c", server], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "up\n"
    stop_tensorboard(process, grace=1.0)
    assert process.returncode == -(signal.SIGKILL if ignores_sigterm else signal.SIGTERM)


def test_set_reads_json_and_python_constants_else_text():
    values, model_options = parse_assignments(
        ["horizontal_flip=False", "max_train_examples=None", "crop_padding=2", "model.attention=se",
         "model.reduction=null", "dataset=mnist", "image_size=[8, 8]"],
        image_recognition.Config,
    )
    assert values == {"horizontal_flip": False, "max_train_examples": None, "crop_padding": 2, "dataset": "mnist",
                      "image_size": [8, 8]}
    assert model_options == {"attention": "se", "reduction": None}
    assert parse_assignments(["lowercase=true"], text_classification.Config)[0] == {"lowercase": True}


@pytest.mark.parametrize(
    "task, setting",
    [("image-recognition", "horizontal_flip"), ("text-classification", "lowercase"), ("translation", "shared_vocabulary")],
)
def test_a_boolean_setting_given_as_other_text_is_refused(capsys, tmp_path, task, setting):
    run_dir = tmp_path / "run"
    assert main(["train", task, "--set", f"{setting}=no", "--run-dir", str(run_dir)]) == 2
    assert re.search(rf"`{setting}` must be True(, False or None| or False); received {setting}='no'", capsys.readouterr().err)
    assert not run_dir.exists()


@pytest.mark.parametrize("task", ["image-recognition", "text-classification", "translation"])
def test_model_options_that_are_not_a_dict_are_refused(capsys, tmp_path, task):
    assert main(["train", task, "--set", "model_options={num_heads:4}", "--run-dir", str(tmp_path / "run")]) == 2
    assert "`model_options` must be a dict of model arguments (on the command line: --set model.ARG=VALUE); " \
           "received '{num_heads:4}'." in capsys.readouterr().err


def test_blank_or_missing_texts_are_refused_before_the_run_is_read(tmp_path):
    no_run = tmp_path / "no_run"  # the input is checked first: no run is needed to see the message
    with pytest.raises(ValueError, match=r"^Text 2 of 3 is blank: '   '\.$"):
        text_classification.predict(no_run, ["a fine film", "   ", "dull"])
    with pytest.raises(ValueError, match=r"^Sentence 1 of 1 is blank: ''\.$"):
        translation.translate(no_run, "")
    with pytest.raises(ValueError, match=r"^Sentence 2 of 2 is not text: 3\.$"):
        translation.translate(no_run, ["Ein Hund.", 3])
    with pytest.raises(ValueError, match=r"^Give at least one text\.$"):
        text_classification.predict(no_run, [])
