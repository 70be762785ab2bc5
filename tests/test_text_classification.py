"""The text-classification recipe on slices of the real SST-2, and its data errors."""

import json
import os
import re
import shutil
from pathlib import Path

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
import shared_runs
from event_files import read_images
from tensorboard_client import CLASSIFICATION_SCALARS, check_served
from toy_training import added_callbacks

from recipes import text_classification as tc
from recipes.classification import distillation_targets, one_hot
from recipes.data import DataError, LabeledTexts, read_labeled_table, read_sst2, tokens
from recipes.data.labels import class_names_of, label_ids
from recipes.training.run import RunDirectory, RunError

# Runs of the Transformer classifier that test no attention logging: one encoder block, to trace less.
QUICK = {
    "max_train_examples": 300, "vocabulary_size": 1000, "batch_size": 32, "attention_probes": 0, "verbose": 0,
    "model_options": {"num_layers": 1},
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, finished_runs):
    """The BiLSTM with attention pooling, 3 epochs on 1,500 SST-2 sentences (the notebook's smoke run)."""
    return finished_runs.copy(tc, shared_runs.TEXT_CLASSIFICATION, tmp_path_factory.mktemp("sst2") / "run")


def test_sst2_reader_reads_the_real_files(data_dir):
    splits = read_sst2(data_dir)
    assert (len(splits["train"]), len(splits["dev"])) == (67349, 872)
    assert set(splits["dev"].labels) == {"negative", "positive"}
    assert splits["dev"].labels.count("positive") == 444


def test_sst2_validation_holds_out_unseen_sentences(data_dir, rng):
    splits = tc.load_data(tc.Config(data_dir=data_dir))
    validation = splits["validation"].texts
    lengths = [len(text.split()) for text in validation]
    assert 300 < len(validation) < 400 and np.median(lengths) > 15  # 5% of 6,886 sentences
    padded_training = [f" {text.strip()} " for text in splits["train"].texts]
    sample = rng.choice(len(validation), 40, replace=False)
    for text in (validation[i].strip() for i in sample):
        assert not any(f" {text} " in training for training in padded_training), f"{text!r} is in training"


def test_training_on_real_sst2_lowers_the_loss(finished_run):
    _, result = finished_run
    losses = result.metrics["train_loss_per_epoch"]
    assert losses[-1] < 0.9 * losses[0], losses
    assert result.metrics["test_examples"] == 872
    assert result.metrics["train_examples"] == 1500


def test_run_directory_holds_everything(finished_run):
    config, result = finished_run
    run = RunDirectory(result.run_dir)
    for path in (run.config_file, run.metrics_file, run.model_file, run.vocabulary_file, run.labels_file):
        assert path.is_file(), path
    assert json.loads(run.config_file.read_text()) == config.to_dict()
    assert run.vocabulary_file.read_text().splitlines()[:2] == ["[PAD]", "[UNK]"]
    assert list((run.path / "train").glob("events.out.tfevents.*"))
    assert list((run.path / "validation").glob("events.out.tfevents.*"))
    assert not run.backup_dir.exists()  # removed once training finished


def test_attention_pooling_of_four_validation_sentences_is_logged_every_epoch(finished_run):
    config, result = finished_run
    images = read_images(RunDirectory(result.run_dir).path / "attention")
    exact = {key: image for key, image in images.items() if not key[0].startswith("attention_pooling_figure/")}
    assert sorted(exact) == sorted(
        (f"attention_pooling/attention_pooling/example_{i}", epoch) for i in range(4) for epoch in range(config.epochs)
    )
    for image in exact.values():
        assert image.shape[0] == 1 and image.sum() == pytest.approx(1.0, abs=image.shape[1] / 510)
    assert len(images) == 2 * len(exact)  # and a labeled figure of each


def test_tensorboard_serves_scalars_attention_confusion_matrix_and_hparams(finished_run):
    _, result = finished_run
    check_served(
        result.run_dir,
        scalars=CLASSIFICATION_SCALARS,
        images={
            "attention": {"attention_pooling/attention_pooling/example_0", "attention_pooling_figure/attention_pooling/example_3"},
            "test": {"confusion_matrix"},
        },
        texts={"attention": {"probes"}},
    )


def test_metrics_hold_the_confusion_matrix_of_the_test_split(finished_run, data_dir):
    _, result = finished_run
    metrics = result.metrics
    counts = np.array(metrics["confusion_matrix"])
    assert metrics["class_names"] == ["negative", "positive"]
    assert counts.sum(axis=1).tolist() == [428, 444]  # GLUE dev: 428 negative, 444 positive sentences
    assert np.trace(counts) / counts.sum() == pytest.approx(metrics["test_accuracy"])
    assert metrics["per_class_accuracy"]["positive"] == pytest.approx(counts[1, 1] / 444)
    # Keras' own accuracy of the saved model agrees with the matrix.
    config, model, prepared = tc.load_run(result.run_dir)
    dev = read_sst2(data_dir)["dev"]
    labels = [prepared.class_names.index(label) for label in dev.labels]
    targets = one_hot(labels, len(prepared.class_names))
    _, accuracy = model.evaluate(tc.token_dataset(dev.texts, targets, prepared.tokenizer, config), verbose=0)
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_evaluate_and_predict_load_the_run(finished_run):
    _, result = finished_run
    metrics = tc.evaluate(result.run_dir)
    assert metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"], abs=1e-6)
    predictions = tc.predict(result.run_dir, ["a gorgeous , witty , seductive movie .", "dull , boring"])
    assert [p["text"] for p in predictions] == ["a gorgeous , witty , seductive movie .", "dull , boring"]
    for prediction in predictions:
        assert prediction["label"] in ("negative", "positive")
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_a_run_is_loaded_once_until_one_of_its_files_changes(finished_run, data_dir, tmp_path):
    """`evaluate` and `predict` reuse a loaded run (its model and the graphs traced for it) while its files stay."""
    _, result = finished_run
    run_dir = shutil.copytree(result.run_dir, tmp_path / "run")
    loaded = tc.TASK.loaded_run(run_dir)
    stored_data_dir = loaded[0].data_dir
    tc.evaluate(run_dir, data_dir=f"{data_dir}/.")  # another data directory for this evaluation only
    assert tc.TASK.loaded_run(run_dir) is loaded and loaded[0].data_dir == stored_data_dir
    labels = (run_dir / "labels.txt").stat()
    os.utime(run_dir / "labels.txt", ns=(labels.st_atime_ns, labels.st_mtime_ns + 10**9))  # written again a second later
    reloaded = tc.TASK.loaded_run(run_dir)
    assert reloaded is not loaded and reloaded[1] is not loaded[1]


@pytest.mark.parametrize("empty", ["\u200b", "\u00ad", "\u200b\u00ad \u200b"])  # zero-width space, soft hyphen
def test_a_text_without_tokens_is_named_at_prediction_and_a_long_one_is_cut_with_a_warning(finished_run, empty):
    config, result = finished_run
    with pytest.raises(DataError, match=re.escape(f"Text 2 of 2: {empty!r} has no token: the tokenizer drops every character")):
        tc.predict(result.run_dir, ["a fine film", empty])
    long_text = " ".join(["good"] * (config.sequence_length + 17))
    with pytest.warns(UserWarning, match=rf"1 of 2 texts have more than {config.sequence_length} tokens \(the longest "
                      rf"{config.sequence_length + 17}\): the model reads the first {config.sequence_length} \(sequence_length="):
        tc.predict(result.run_dir, ["a fine film", long_text])


def test_a_training_text_without_tokens_is_named_by_file_and_line(tmp_path):
    rows = ["sentence\tlabel"] + [f"a fine film number {i}\t{i % 2}" for i in range(30)]
    rows[8] = "\u200b\t1"
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = tc.Config(model="transformer_classifier_tiny", train_file=str(tmp_path / "train.tsv"), test_file=str(tmp_path / "train.tsv"),
                       run_dir=str(tmp_path / "run"), vocabulary_size=100, epochs=1, verbose=0)
    with pytest.raises(DataError, match=re.escape("train.tsv, line 9: '\\u200b' has no token")):
        tc.train(config)


def test_labels_that_do_not_fit_the_model_are_an_error_not_a_traceback(finished_run, tmp_path):
    _, result = finished_run
    copy = tmp_path / "run"
    shutil.copytree(result.run_dir, copy)
    (copy / "labels.txt").write_text("negative\n")
    with pytest.raises(RunError, match=r"labels.txt names 1 classes, but .*model.keras has 2 outputs: the file was edited"):
        tc.predict(str(copy), ["a fine film"])


def test_finished_run_is_not_retrained_and_other_settings_are_refused(finished_run):
    config, result = finished_run
    again = tc.train(config)
    assert again.metrics == result.metrics
    changed = tc.Config(**(config.to_dict() | {"epochs": 5}))
    with pytest.raises(RunError, match="differs in: epochs"):
        tc.train(changed)


class StopAfterEpoch(keras.callbacks.Callback):
    """Simulates a killed process after epoch `last` (the first by default)."""

    def __init__(self, last=0):
        super().__init__()
        self.last = last

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.last:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_where_it_stopped_and_ends_as_if_it_never_had(data_dir, tmp_path, capsys):
    """Dropout, a shuffled and bucketed order, Adam: the resumed run's second epoch is the uninterrupted run's."""
    settings = dict(model="transformer_classifier_tiny", epochs=2, data_dir=data_dir, **QUICK)
    uninterrupted = tc.train(tc.Config(run_dir=str(tmp_path / "uninterrupted"), **settings)).metrics
    config = tc.Config(run_dir=str(tmp_path / "run"), **settings)
    with added_callbacks(after=[StopAfterEpoch()]), pytest.raises(KeyboardInterrupt):
        tc.train(config)
    assert RunDirectory(config.run_dir).backup_dir.exists()
    begun = []  # a restart from scratch would also log two epochs: the second run must begin at epoch 1
    recorder = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: begun.append(epoch))
    capsys.readouterr()
    with added_callbacks(after=[recorder]):
        result = tc.train(config)
    assert begun == [1]
    assert "resuming from epoch 2 of 2 (its backup holds epoch 1)" in capsys.readouterr().out
    np.testing.assert_allclose(result.metrics["train_loss_per_epoch"], uninterrupted["train_loss_per_epoch"], rtol=1e-4)
    for metric in ("test_accuracy", "test_loss", "best_validation_accuracy"):
        assert result.metrics[metric] == pytest.approx(uninterrupted[metric], rel=1e-4), metric
    assert result.metrics["wall_time_seconds"] > 0


class WeightAverageReference(keras.callbacks.Callback):
    """NumPy's moving average of the trained weights after each step, ``a <- m a + (1 - m) w``
    (the first step sets ``a = w``), and the weights the model holds at each epoch's end."""

    def __init__(self, momentum):
        super().__init__()
        self.momentum, self.average, self.at_epoch_end = momentum, None, []

    def on_train_batch_end(self, batch, logs=None):
        weights = [np.asarray(w, "float64") for w in self.model.trainable_weights]
        if self.average is None:
            self.average = weights
        else:
            self.average = [self.momentum * a + (1 - self.momentum) * w for a, w in zip(self.average, weights)]

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end.append(([np.asarray(w) for w in self.model.trainable_weights], [a.copy() for a in self.average]))


class WorseSecondEpoch(keras.callbacks.Callback):
    """Scores the first epoch's validation 0.9 and the second's 0.1, before the callbacks that read the score."""

    def on_epoch_end(self, epoch, logs=None):
        logs["val_accuracy"] = [0.9, 0.1][epoch]


def test_weight_averaging_validates_saves_and_resumes_with_the_moving_average(data_dir, tmp_path):
    config = tc.Config(model="transformer_classifier_tiny", epochs=2, run_dir=str(tmp_path / "run"), data_dir=data_dir,
                       ema_momentum=0.8, **QUICK)
    reference = WeightAverageReference(config.ema_momentum)
    with added_callbacks(before=[WorseSecondEpoch()], after=[reference, StopAfterEpoch()]), pytest.raises(KeyboardInterrupt):
        tc.train(config)
    with added_callbacks(before=[WorseSecondEpoch()], after=[reference]):
        tc.train(config)  # resumes from the trained weights, not the averaged ones: the average carries on

    for held, average in reference.at_epoch_end:
        for weight, expected in zip(held, average):
            np.testing.assert_allclose(weight, expected, rtol=1e-4, atol=1e-6)
    # The resumed run knew the first epoch's score: its worse second epoch left the checkpoint alone.
    saved = [np.asarray(w) for w in RunDirectory(config.run_dir).load_model().trainable_weights]
    for weight, expected in zip(saved, reference.at_epoch_end[0][1]):
        np.testing.assert_allclose(weight, expected, rtol=1e-4, atol=1e-6)


def test_distillation_targets_give_the_weighted_sum_of_both_cross_entropies(rng):
    num_classes, weight = int(rng.integers(2, 6)), float(rng.uniform())
    labels = rng.integers(num_classes, size=32)
    teachers = rng.dirichlet(np.ones(num_classes), size=32)
    logits = rng.normal(size=(32, num_classes))
    targets = distillation_targets(one_hot(labels, num_classes), teachers, weight)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    log_q = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = np.mean(-(1 - weight) * log_q[np.arange(32), labels] - weight * (teachers * log_q).sum(axis=1))
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)(targets, logits.astype("float32"))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def softmax_of_each_text(run_dir, texts):
    """NumPy softmax of a run's logits for each text alone (no batching, no padding)."""
    config, model, prepared = tc.load_run(run_dir)
    tokenizer = prepared.tokenizer
    logits = np.concatenate([np.asarray(model(np.asarray(tokenizer(text))[None, : config.sequence_length])) for text in texts])
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def test_student_trains_on_the_teachers_mean_probabilities(finished_run, tmp_path, monkeypatch):
    teacher_config, teacher = finished_run
    teacher_copy = tmp_path / "teacher_copy"  # a second teacher, identical: the mean is its probabilities
    shutil.copytree(teacher.run_dir, teacher_copy)
    student = tc.Config(**(teacher_config.to_dict() | {
        "model": "transformer_classifier_tiny", "epochs": 1, "run_dir": str(tmp_path / "student"), "max_train_examples": 300,
        "seed": 7, "split_seed": teacher_config.seed,  # another initialization, the teacher's validation split
        "teachers": [teacher.run_dir, str(teacher_copy)], "distillation_weight": 0.75, "attention_probes": 0,
    }))
    training_sets = []
    token_dataset = tc.token_dataset

    def recording_token_dataset(texts, targets, tokenizer, config, *, order=None):
        if order is not None:
            training_sets.append((texts, targets))
        return token_dataset(texts, targets, tokenizer, config, order=order)

    monkeypatch.setattr(tc, "token_dataset", recording_token_dataset)
    metrics = tc.train(student).metrics

    splits = tc.load_data(student)
    assert splits["validation"].texts == tc.load_data(teacher_config)["validation"].texts
    [(train_texts, train_targets)] = training_sets
    assert train_texts == splits["train"].texts
    sample = 12  # each text is a separate eager call of the teacher (0.75 s)
    labels = np.asarray(train_targets[:sample]) - 0.75 * softmax_of_each_text(teacher.run_dir, train_texts[:sample])
    np.testing.assert_allclose(labels.sum(axis=1), 0.25, rtol=1e-5)  # what is left is 0.25 one-hot(label)
    expected = [class_names_of(splits["train"].labels).index(label) for label in splits["train"].labels[:sample]]
    assert np.argmax(labels, axis=1).tolist() == expected
    np.testing.assert_allclose(labels.max(axis=1), 0.25, rtol=1e-4)
    assert metrics["teacher_wall_time_seconds"] == pytest.approx(2 * teacher.metrics["wall_time_seconds"])
    assert metrics["teacher_inference_seconds"] > 0
    assert teacher.metrics["teacher_wall_time_seconds"] == 0.0


def test_teachers_on_another_split_or_with_other_classes_are_refused(finished_run, tmp_path):
    teacher_config, teacher = finished_run
    student = teacher_config.to_dict() | {"run_dir": str(tmp_path / "student"), "teachers": [teacher.run_dir]}
    with pytest.raises(ValueError, match=r"another validation split: split_seed 1337 \(this run: 7\)\. Train teachers"):
        tc.train(tc.Config(**(student | {"seed": 7})))
    with pytest.raises(ValueError, match=r"validation_fraction 0.05 \(this run: 0.1\)\."):
        tc.train(tc.Config(**(student | {"run_dir": str(tmp_path / "student2"), "validation_fraction": 0.1})))
    relabeled = tmp_path / "relabeled"
    shutil.copytree(teacher.run_dir, relabeled)
    (relabeled / "labels.txt").write_text("bad\ngood\n")
    with pytest.raises(ValueError, match=r"predicts the classes \['bad', 'good'\]; this run has \['negative', 'positive'\]"):
        tc.train(tc.Config(**(student | {"run_dir": str(tmp_path / "student3"), "teachers": [str(relabeled)]})))
    with pytest.raises(RunError, match="Missing run configuration .*none/config.json"):
        tc.train(tc.Config(**(student | {"run_dir": str(tmp_path / "student4"), "teachers": [str(tmp_path / "none")]})))
    image_run = tmp_path / "image_run"
    image_run.mkdir()
    (image_run / "config.json").write_text(json.dumps({"model": "resnet20"}))
    with pytest.raises(RunError, match=r"image_run is not a text-classification run: its model is 'resnet20'\."):
        tc.train(tc.Config(**(student | {"run_dir": str(tmp_path / "student5"), "teachers": [str(image_run)]})))
    unfinished = tmp_path / "unfinished"
    shutil.copytree(teacher.run_dir, unfinished)
    (unfinished / "metrics.json").unlink()
    with pytest.raises(RunError, match="metrics.json is missing"):
        tc.train(tc.Config(**(student | {"run_dir": str(tmp_path / "student6"), "teachers": [str(unfinished)]})))


def test_a_vocabulary_learned_again_in_the_process_is_a_copy_of_the_first(rng, monkeypatch):
    learner = keras_hub.tokenizers.compute_word_piece_vocabulary
    calls = []
    monkeypatch.setattr(keras_hub.tokenizers, "compute_word_piece_vocabulary", lambda *a, **k: calls.append(a) or learner(*a, **k))
    words = [f"w{n}" for n in rng.integers(0, 10**9, size=40)]
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(30)]

    def learn(texts):
        return tokens.learn_word_piece_vocabulary(texts, 60, reserved_tokens=tc.RESERVED_TOKENS, lowercase=True)

    first = learn(texts)
    assert first == learner(tf.data.Dataset.from_tensor_slices(texts).batch(8), 60, lowercase=True, reserved_tokens=list(tc.RESERVED_TOKENS))
    first.append("changed by its caller")
    assert learn(texts) == first[:-1] and len(calls) == 1  # learned once, and the caller's list is its own
    learn(texts[:-1])
    assert len(calls) == 2  # other texts are learned


def test_texts_are_tokenized_at_once_as_the_tokenizer_tokenizes_each_one(rng, monkeypatch):
    words = [f"w{n}" for n in rng.integers(0, 10**6, size=30)]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 20))) for _ in range(23)]
    tokenizer = tokens.word_piece_tokenizer(
        tokens.learn_word_piece_vocabulary(texts, 50, reserved_tokens=tc.RESERVED_TOKENS, lowercase=True), lowercase=True
    )
    expected = [list(tokenizer(text)) for text in texts]  # eagerly, one text at a time
    monkeypatch.setattr(tokens, "TOKENIZER_BATCH", 5)  # several graph calls
    width = int(np.median([len(ids) for ids in expected]))
    table = tokens.token_table(tokenizer, texts, width)
    assert table.ids.shape == (len(texts), width) and table.ids.dtype == np.int32
    assert table.lengths.tolist() == [len(ids) for ids in expected]
    assert [row[:count].tolist() for row, count in zip(table.ids, table.cut_lengths)] == [ids[:width] for ids in expected]
    assert not any(row[count:].any() for row, count in zip(table.ids, table.cut_lengths))

    config = tc.Config(sequence_length=width, batch_size=4)
    batches = list(tc.token_dataset(texts, np.arange(len(texts)), tokenizer, config))
    rows = [(row[row > 0].tolist(), int(label)) for ids, labels in batches for row, label in zip(ids.numpy(), labels.numpy())]
    assert rows == [(ids[:width], label) for label, ids in enumerate(expected)]
    batch_widths = [max(len(ids[:width]) for ids in expected[start : start + 4]) for start in range(0, len(texts), 4)]
    assert [ids.shape[1] for ids, _ in batches] == batch_widths  # padded to the batch's longest text only


def test_a_data_directory_named_two_ways_is_one_split(data_dir, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", data_dir)
    named = Path(data_dir).resolve()
    from_environment = tc.split_of(tc.Config())
    assert from_environment == tc.split_of(tc.Config(data_dir=str(named / "sst2" / "..")))
    assert from_environment["data_dir"] == str(named)
    assert from_environment != tc.split_of(tc.Config(data_dir=str(named / "sst2")))


def test_user_csv_with_string_labels_after_a_failed_start(tmp_path, data_dir, monkeypatch):
    sst = read_sst2(data_dir)["train"]
    for name, rows in (("train.csv", range(0, 400)), ("test.csv", range(400, 500))):
        lines = ["review,sentiment"] + [f'"{sst.texts[i]}",{sst.labels[i]}' for i in rows]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    config = tc.Config(model="transformer_classifier_tiny", epochs=1, run_dir=str(tmp_path / "run"),
                       train_file=str(tmp_path / "train.csv"), test_file=str(tmp_path / "test.csv"),
                       text_column="review", label_column="sentiment", **QUICK)

    # A first start in the same directory, with another vocabulary size, failed before training.
    def refuse(*args):
        raise ValueError("refused")

    with monkeypatch.context() as patched:
        patched.setattr(tc.TASK, "build_model", refuse)
        with pytest.raises(ValueError, match="refused"):
            tc.train(tc.Config(**(config.to_dict() | {"vocabulary_size": 120})))
    result = tc.train(config)  # is not refused as another configuration, and learns its own vocabulary
    assert len((tmp_path / "run" / "vocabulary.txt").read_text().splitlines()) > 120
    assert result.metrics["test_examples"] == 100
    assert (tmp_path / "run" / "labels.txt").read_text().split() == ["negative", "positive"]


def test_missing_data_directory_names_it_and_the_layout(tmp_path):
    with pytest.raises(DataError, match=r"nowhere.*does not exist.*sst2/train.tsv"):
        read_sst2(tmp_path / "nowhere")
    (tmp_path / "sst2").mkdir()
    with pytest.raises(DataError, match=r"Missing data file .*sst2/train.tsv.*sentence<TAB>label"):
        read_sst2(tmp_path)


def test_malformed_row_names_file_and_line(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\ngood film\t1\nbad film\t0\textra\n")
    with pytest.raises(DataError, match=r"train.tsv, line 3: 3 field\(s\) where the header has 2"):
        read_labeled_table(path)
    path.write_text("text\tlabel\ngood film\t1\n")
    with pytest.raises(DataError, match=r"line 1: header .* lacks the column 'sentence'"):
        read_labeled_table(path)
    path.write_text("sentence\tlabel\ngood film\t\n")
    with pytest.raises(DataError, match="line 2: empty text or label"):
        read_labeled_table(path)
    csv_path = tmp_path / "train.csv"
    csv_path.write_text('sentence,label\n"good film,1\n' + "and on " * 20_000 + "\n")  # a quote left open
    with pytest.raises(DataError, match=r"train.csv, line 3: field larger than field limit \(131072\); expected "):
        read_labeled_table(csv_path, delimiter=",")


def test_blank_table_lines_are_skipped(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("sentence,label\n\ngood film,1\n  \nbad film,0\n\n")
    assert read_labeled_table(path, delimiter=",") == LabeledTexts(["good film", "bad film"], ["1", "0"])


def test_tables_saved_with_a_byte_order_mark_or_not_in_utf8(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("sentence,label\ncafé au lait,good\n", encoding="utf-8-sig")  # as Excel saves UTF-8
    assert read_labeled_table(path) == LabeledTexts(["café au lait"], ["good"])
    path.write_text("sentence,label\ncafé au lait,good\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"train.csv is not UTF-8 text \(.*byte 0xe9.*\); save it as UTF-8"):
        read_labeled_table(path)


def test_unknown_sst2_label_is_reported(tmp_path):
    (tmp_path / "sst2").mkdir()
    for split in ("train", "dev"):
        (tmp_path / "sst2" / f"{split}.tsv").write_text("sentence\tlabel\nfine\t7\n")
    with pytest.raises(DataError, match=r"labels \['7'\] are not SST-2 labels"):
        read_sst2(tmp_path)


def test_own_files_are_stored_absolute_so_the_run_evaluates_from_anywhere(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    config = tc.Config(train_file="data/train.csv", test_file="~/test.csv")
    assert (config.train_file, config.test_file) == (str(tmp_path / "data" / "train.csv"), str(Path.home() / "test.csv"))


def test_bad_config_values_are_explained():
    with pytest.raises(ValueError, match="choose one of"):
        tc.Config(model="resnet50")
    with pytest.raises(ValueError, match="both `train_file` and `test_file`"):
        tc.Config(train_file="train.csv")
    with pytest.raises(ValueError, match="batch_size"):
        tc.Config(batch_size=0)
    with pytest.raises(ValueError, match=r"model.sequence_length=32 is shorter than the sentences' sequence_length=64"):
        tc.Config(model="transformer_classifier_tiny", model_options={"sequence_length": 32})
    with pytest.raises(ValueError, match=r"model.sequence_length cannot be set: bilstm_attention reads sentences of any length"):
        tc.Config(model="bilstm_attention", model_options={"sequence_length": 64})  # it would fix the input length
    with pytest.raises(ValueError, match=r"model.vocab_size cannot be set: .*learned from the training texts"):
        tc.Config(model_options={"vocab_size": 100})
    with pytest.raises(ValueError, match=r"model.num_classes cannot be set: it is the number of labels"):
        tc.Config(model_options={"num_classes": 3})
    with pytest.raises(ValueError, match=r"`attention_probes` must be a non-negative integer; received attention_probes=-1"):
        tc.Config(attention_probes=-1)
    with pytest.raises(ValueError, match=r"`ema_momentum` must be a number in \[0, 1\) or None; received ema_momentum=1.5"):
        tc.Config(ema_momentum=1.5)
    with pytest.raises(ValueError, match="`teachers` must be a non-empty list of run directories; received 'runs/a'"):
        tc.Config(teachers="runs/a")
    with pytest.raises(ValueError, match=r"`distillation_weight` must be a number in \[0, 1\]; received distillation_weight=1.5"):
        tc.Config(teachers=["runs/a"], distillation_weight=1.5)
    with pytest.raises(ValueError, match=r"give `teachers` with it \(received distillation_weight=0.5 and no teachers\)"):
        tc.Config(distillation_weight=0.5)
    with pytest.raises(ValueError, match=r"`text_column` and `label_column` name the columns of your own train_file"):
        tc.Config(text_column="review")  # SST-2 would be read, with its own columns
    assert tc.Config(train_file="a.csv", test_file="b.csv", text_column="review").text_column == "review"
    # Values of the wrong type (`--set learning_rate=fast`) or sign are refused by name, before any run starts.
    for field, value, allowed in [
        ("validation_fraction", "abc", r"a number in \(0, 1\)"),
        ("learning_rate", "fast", r"a number in \(0, inf\) or None"),  # None: the model's default
        ("weight_decay", -0.1, r"a number in \[0, inf\)"),
        ("warmup_fraction", None, r"a number in \[0, 1\)"),
        ("max_train_examples", -5, "a positive integer or None"),
        ("verbose", "abc", r"one of \[0, 1, 2\] or None"),
        ("vocabulary_size", 2, r"an integer of at least 3 \(the reserved tokens \[PAD\], \[UNK\] and one learned\)"),
    ]:
        with pytest.raises(ValueError, match=rf"`{field}` must be {allowed}; received {field}={value!r}"):
            tc.Config(**{field: value})


def test_learning_rate_defaults_to_the_models_unless_given():
    assert tc.Config(model="transformer_classifier_small").learning_rate == 5e-4
    assert tc.Config(model="bilstm_attention").learning_rate == tc.DEFAULT_LEARNING_RATE == 2e-3
    assert tc.Config(model="transformer_classifier_small", learning_rate=1e-3).learning_rate == 1e-3


def test_class_names_sort_numerically_when_numeric_and_need_two_classes():
    assert class_names_of(["10", "2", "1"]) == ["1", "2", "10"]
    assert class_names_of(["1.5", "-1", "10", "2"]) == ["-1", "1.5", "2", "10"]
    assert class_names_of(["pos", "neg", "10"]) == ["10", "neg", "pos"]
    with pytest.raises(DataError, match=r"The training labels hold 1 class\(es\), \['pos'\]; a classifier needs at least two"):
        class_names_of(["pos", "pos"])
    np.testing.assert_array_equal(label_ids(["2", "10"], ["1", "2", "10"], "test"), [1, 2])
    with pytest.raises(DataError, match=r"The test split: labels \['3'\] are not among the training labels"):
        label_ids(["2", "3"], ["1", "2", "10"], "The test split")
