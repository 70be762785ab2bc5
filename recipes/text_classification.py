"""Text classification: WordPiece -> zoo model -> fit() -> TensorBoard -> accuracy.

Data: SST-2 from `$ZOO_DATA_DIR/sst2` (GLUE dev is the evaluation set; a fixed-seed
`validation_fraction` of the training sentences is held out, with the phrases
only they contain, by `recipes.phrases.split_off_sentences`), or any TSV/CSV with a
text and a label column (`train_file`, `test_file`; a random validation split).

Knowledge distillation (Hinton et al., 2015, "Distilling the Knowledge in a
Neural Network"): with `teachers`, finished runs on the same data and
validation split, each training target is `(1 - w) one_hot(label) + w p`,
`p` the teachers' mean class probabilities of the example and `w` the
`distillation_weight`, so one model learns what an ensemble of runs knows.

>>> from recipes import text_classification as tc
>>> result = tc.train(tc.Config(model="bilstm_attention", epochs=3, run_dir="runs/sst2"))
>>> tc.predict("runs/sst2", ["a gorgeous , witty , seductive movie ."])
"""

import dataclasses
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import zoo
from layers.validation import check_bool, check_non_negative_int, check_number, check_positive_int, check_rate
from recipes import data as datasets
from recipes import optimization, phrases, tokens
from recipes.attention_logging import ATTENTION_LOG_DIR, AttentionMapLogger, text_classification_summaries
from recipes.classification import (
    TEST_LOG_DIR, classification_report, distillation_targets, log_confusion_matrix, one_hot,
)
from recipes.callbacks import fit
from recipes.run import (
    Result, RunDirectory, check_model_task, config_defaults, read_lines, refuse_recipe_model_options, write_lines,
)

TASK = "text-classification"
SST2_COLUMNS = {"text_column": "sentence", "label_column": "label"}
DEFAULT_LEARNING_RATE = 2e-3
# Models that need a lower peak: transformer_classifier_small diverged at 2e-3 (52% on SST-2 dev) and reached 78.8% at 5e-4.
LEARNING_RATES = {"transformer_classifier_small": 5e-4}
RESERVED_TOKENS = ("[PAD]", tokens.UNK)  # [PAD] must be id 0: the models' mask_zero relies on it.


@dataclasses.dataclass
class Config:
    """Every knob of the recipe. Defaults are the benchmark configuration (SST-2)."""

    model: str = "bilstm_attention"
    model_options: dict = dataclasses.field(default_factory=dict)
    data_dir: str = None
    train_file: str = None
    test_file: str = None
    text_column: str = SST2_COLUMNS["text_column"]  # columns of train_file and test_file
    label_column: str = SST2_COLUMNS["label_column"]
    validation_fraction: float = 0.05
    split_seed: int = None  # seed of the validation split; None: `seed` (runs with other seeds can share one split)
    max_train_examples: int = None
    vocabulary_size: int = 8000
    lowercase: bool = True
    sequence_length: int = 64
    batch_size: int = 64
    epochs: int = 3
    learning_rate: float = None  # peak of the schedule; None: the model's in LEARNING_RATES, else DEFAULT_LEARNING_RATE
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    ema_momentum: float = None  # validate, checkpoint and test an average of the weights; None: the weights
    teachers: list = None  # finished run directories (same data and validation split) to distill from; None: labels only
    distillation_weight: float = 1.0  # with teachers: share of their mean probabilities in each training target
    attention_probes: int = 4  # validation sentences whose attention is logged each epoch; 0: none
    seed: int = 1337
    run_dir: str = "runs/text_classification"
    verbose: int = 2

    def __post_init__(self):
        check_model_task(self.model, TASK)
        if self.learning_rate is None:
            self.learning_rate = LEARNING_RATES.get(self.model, DEFAULT_LEARNING_RATE)
        if (self.train_file is None) != (self.test_file is None):
            raise ValueError("Give both `train_file` and `test_file` (or neither, for SST-2).")
        own_columns = {"text_column": self.text_column, "label_column": self.label_column}
        if self.train_file is None and own_columns != SST2_COLUMNS:
            raise ValueError(
                f"`text_column` and `label_column` name the columns of your own train_file and test_file; "
                f"SST-2 has its own ({SST2_COLUMNS}); received {own_columns}."
            )
        self.train_file, self.test_file = datasets.absolute_paths(self.train_file, self.test_file)
        check_number("(0, 1)", validation_fraction=self.validation_fraction)
        check_positive_int(
            vocabulary_size=self.vocabulary_size,
            sequence_length=self.sequence_length,
            batch_size=self.batch_size,
            epochs=self.epochs,
        )
        check_positive_int(optional=True, max_train_examples=self.max_train_examples)
        check_number("(0, inf)", learning_rate=self.learning_rate)
        check_number("[0, inf)", weight_decay=self.weight_decay)
        check_rate(warmup_fraction=self.warmup_fraction)
        check_number("[0, 1)", optional=True, ema_momentum=self.ema_momentum)
        check_number("[0, 1]", distillation_weight=self.distillation_weight)
        if self.teachers is None and self.distillation_weight != 1.0:
            raise ValueError(
                f"`distillation_weight` weighs the teachers' probabilities; give `teachers` with it "
                f"(received distillation_weight={self.distillation_weight!r} and no teachers)."
            )
        check_non_negative_int(attention_probes=self.attention_probes)
        check_bool(lowercase=self.lowercase)
        refuse_recipe_model_options(self.model_options, self.recipe_model_options())
        model_length = self.model_options.get("sequence_length")
        if isinstance(model_length, int) and model_length < self.sequence_length:
            raise ValueError(
                f"model.sequence_length={model_length} is shorter than the sentences' sequence_length="
                f"{self.sequence_length}; set `sequence_length` alone (it sizes the model's position table too)."
            )
        if self.teachers is not None and (
            isinstance(self.teachers, str) or not self.teachers or not all(isinstance(t, str) for t in self.teachers)
        ):
            raise ValueError(f"`teachers` must be a non-empty list of run directories; received {self.teachers!r}.")

    def recipe_model_options(self):
        """The model arguments the recipe sets from the data, with what decides them."""
        options = {
            "vocab_size": "it is the size of the vocabulary learned from the training texts (set `vocabulary_size`)",
            "num_classes": "it is the number of labels in the training data",
        }
        if zoo.default_config(self.model).get("sequence_length") is None:
            options["sequence_length"] = (
                f"{self.model} reads sentences of any length; `sequence_length` truncates them"
            )
        return options

    @property
    def validation_seed(self):
        """The seed of the validation split: `split_seed`, else `seed`."""
        return self.seed if self.split_seed is None else self.split_seed

    def to_dict(self):
        return dataclasses.asdict(self)


def load_data(config):
    """`{"train", "validation", "test"}` splits as `recipes.data.LabeledTexts`."""
    if config.train_file is None:
        sst2 = datasets.read_sst2(config.data_dir)
        full_train, test = sst2["train"], sst2["dev"]
        # SST-2's training examples are sentences and their phrases: hold out whole sentences.
        train_indices, validation_indices = phrases.split_off_sentences(
            full_train.texts, config.validation_fraction, config.validation_seed
        )
    else:
        columns = {"text_column": config.text_column, "label_column": config.label_column}
        full_train = datasets.read_labeled_table(config.train_file, **columns)
        test = datasets.read_labeled_table(config.test_file, **columns)
        train_indices, validation_indices = datasets.split_off_validation(
            len(full_train), config.validation_fraction, config.validation_seed
        )
    return {
        "train": full_train.take(train_indices[: config.max_train_examples]),
        "validation": full_train.take(validation_indices),
        "test": test,
    }


def class_names_of(labels):
    """Sorted class names; numerically when every label is an integer. Fewer than two give `ValueError`."""
    names = set(labels)
    if len(names) < 2:
        raise ValueError(
            f"The training labels hold {len(names)} class(es), {sorted(names)}; a classifier needs at least two "
            "(is `label_column` the labels' column?)."
        )
    if all(name.lstrip("-").isdigit() for name in names):
        return sorted(names, key=int)
    return sorted(names)


def learn_vocabulary(texts, config):
    """WordPiece vocabulary of at most `config.vocabulary_size` tokens learned from `texts`."""
    return tokens.learn_word_piece_vocabulary(
        texts, config.vocabulary_size, reserved_tokens=RESERVED_TOKENS, lowercase=config.lowercase
    )


def make_tokenizer(vocabulary, config):
    return tokens.word_piece_tokenizer(vocabulary, lowercase=config.lowercase)


def make_dataset(texts, targets, tokenizer, config, *, training):
    """`tf.data` pipeline of `(token ids, target)`: (shuffle) -> tokenize -> truncate -> batch with padding -> prefetch.

    `targets`: one per text, a class id or a distribution over the classes.

    Training batches group sentences of similar length (`bucket_by_sequence_length`)
    so little time goes into padding; other batches keep the input order.
    """
    length = config.sequence_length
    dataset = tf.data.Dataset.from_tensor_slices((list(texts), np.asarray(targets)))
    if training:
        dataset = dataset.shuffle(len(texts), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda text, label: (tokenizer(text)[:length], label), num_parallel_calls=tf.data.AUTOTUNE)
    if training:
        boundaries = [b for b in (8, 16, 24, 32, 48, 64, 96, 128) if b < length]
        dataset = tokens.bucket_by_length(
            dataset, lambda token_ids, label: tf.shape(token_ids)[0], boundaries, config.batch_size
        )
    else:
        dataset = dataset.padded_batch(config.batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)


def build_model(config, vocabulary_size, num_classes):
    """The zoo model with the data's vocabulary and classes, then `config.model_options`."""
    overrides = {"vocab_size": vocabulary_size, "num_classes": num_classes}
    # Models with a position table need the longest sequence; recurrent ones take any length.
    if zoo.default_config(config.model).get("sequence_length") is not None:
        overrides["sequence_length"] = config.sequence_length
    return zoo.build(config.model, **(overrides | config.model_options))


def compile_model(model, config, steps_per_epoch):
    """AdamW with linear warmup then cosine decay to 0; no decay on biases and norms; optionally weight averaging.

    The loss is the cross-entropy with target distributions (one-hot labels, or distillation targets).
    `accuracy` compares the prediction with the target's most probable class: the label for one-hot
    targets (validation, test), the teachers' vote for distillation targets at weight 1.
    """
    total_steps = steps_per_epoch * config.epochs
    schedule = optimization.warmup_cosine_decay(
        config.learning_rate, total_steps, int(total_steps * config.warmup_fraction)
    )
    model.compile(
        optimizer=optimization.make_optimizer("adamw", schedule, config.weight_decay, ema_momentum=config.ema_momentum),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


def train(config):
    """Trains `config.model` and writes the run directory; resumes an unfinished run.

    Returns:
        `Result` with the run directory and the metrics written to `metrics.json`
        (test accuracy, best validation accuracy, epochs, wall time, throughput;
        with teachers, their training wall time and the time their targets took).
        A finished run with the same config is not retrained: its result is returned.
    """
    run = RunDirectory(config.run_dir)
    resuming = run.start(config.to_dict(), defaults=config_defaults(Config))
    if run.metrics_file.exists():
        print(f"{run.path} is a finished run with this configuration; not retraining.")
        return Result(str(run.path), run.read_metrics())

    keras.utils.set_random_seed(config.seed)  # same config, same weights and data order
    splits = load_data(config)
    if resuming:  # keep the vocabulary the weights were trained with
        vocabulary, class_names = read_lines(run.vocabulary_file), read_lines(run.labels_file)
    else:
        vocabulary = learn_vocabulary(splits["train"].texts, config)
        class_names = class_names_of(splits["train"].labels)
        write_lines(run.vocabulary_file, vocabulary)
        write_lines(run.labels_file, class_names)
    tokenizer = make_tokenizer(vocabulary, config)
    label_ids = {split: encode_labels(data.labels, class_names, split) for split, data in splits.items()}
    train_targets = one_hot(label_ids["train"], len(class_names))
    teacher_costs = {"teacher_wall_time_seconds": 0.0, "teacher_inference_seconds": 0.0}
    if config.teachers:
        probabilities, teacher_costs = teacher_probabilities(config, splits["train"].texts, class_names)
        train_targets = distillation_targets(train_targets, probabilities, config.distillation_weight)

    train_data = make_dataset(splits["train"].texts, train_targets, tokenizer, config, training=True)
    validation_data = make_dataset(
        splits["validation"].texts, one_hot(label_ids["validation"], len(class_names)), tokenizer, config, training=False
    )
    model = build_model(config, len(vocabulary), len(class_names))
    compile_model(model, config, steps_per_epoch=int(train_data.cardinality()))

    fit(
        model, train_data, validation_data, run, config,
        monitor="val_accuracy", mode="max", examples_per_epoch=len(splits["train"]),
        loggers=attention_loggers(run, splits["validation"].texts[: config.attention_probes], tokenizer, config),
    )
    history = run.read_history()

    best = run.load_model()
    test_data = make_dataset(splits["test"].texts, label_ids["test"], tokenizer, config, training=False)
    report = report_on(best, test_data, label_ids["test"], class_names)
    log_confusion_matrix(run.path / TEST_LOG_DIR, report["confusion_matrix"], class_names, step=config.epochs - 1)
    metrics = {
        "model": config.model,
        "parameters": best.count_params(),
        **report,
        "best_validation_accuracy": run.best_saved_value("val_accuracy", "max"),
        "train_loss_per_epoch": history["loss"],
        "epochs": config.epochs,
        "train_examples": len(splits["train"]),
        "test_examples": len(splits["test"]),
        "wall_time_seconds": sum(history["epoch_seconds"]),
        "train_examples_per_second": float(np.mean(history["examples_per_second"])),
        **teacher_costs,
    }
    run.write_metrics(metrics)
    return Result(str(run.path), metrics)


# Settings that fix a run's data and validation split: a teacher must share them with its student.
SPLIT_SETTINGS = ("data_dir", "train_file", "test_file", "text_column", "label_column", "validation_fraction")


def split_of(config):
    """`{setting: value}` of `SPLIT_SETTINGS` and `split_seed` (the validation seed in effect).

    Paths are resolved (`data_dir` None is `$ZOO_DATA_DIR`), so one directory named two ways is one setting.
    """
    split = {key: getattr(config, key) for key in SPLIT_SETTINGS} | {"split_seed": config.validation_seed}
    split["data_dir"] = datasets.resolve_data_dir(config.data_dir)
    for path_setting in ("data_dir", "train_file", "test_file"):
        if split[path_setting] is not None:
            split[path_setting] = str(Path(split[path_setting]).expanduser().resolve())
    return split


def teacher_probabilities(config, texts, class_names):
    """The mean class probabilities of `config.teachers` for the training `texts`, and their costs.

    Each teacher must be a finished run on the same data and validation split
    (`split_of`) with the same classes: a teacher that
    trained on this run's validation sentences would pass what it memorized of
    them on, and the validation accuracy would no longer measure unseen text.

    Returns:
        `(probabilities (len(texts), classes), {"teacher_wall_time_seconds": the
        teachers' training time, "teacher_inference_seconds": the time spent here})`.
    """
    start = time.perf_counter()
    probabilities, wall_time, ours = [], 0.0, split_of(config)
    for run_dir in config.teachers:
        teacher, model, tokenizer, teacher_classes = load_run(run_dir)
        teacher_run = RunDirectory(run_dir)
        teacher_run.require(teacher_run.metrics_file)
        theirs = split_of(teacher)
        differing = [f"{key} {theirs[key]!r} (this run: {ours[key]!r})" for key in ours if theirs[key] != ours[key]]
        if differing:
            raise ValueError(
                f"Teacher {run_dir} was trained on other data or another validation split: {'; '.join(differing)}. "
                "Train teachers with this run's data, validation_fraction and split_seed."
            )
        if teacher_classes != class_names:
            raise ValueError(f"Teacher {run_dir} predicts the classes {teacher_classes}; this run has {class_names}.")
        probabilities.append(probabilities_of(model, tokenizer, teacher, texts))
        wall_time += teacher_run.read_metrics()["wall_time_seconds"]
    costs = {"teacher_wall_time_seconds": wall_time, "teacher_inference_seconds": time.perf_counter() - start}
    return np.mean(probabilities, axis=0), costs


def report_on(model, dataset, label_ids, class_names):
    """`classification_report` of `model` on `dataset` (whose labels are `label_ids`) and its `test_loss`."""
    logits = model.predict(dataset.map(lambda token_ids, label: token_ids), verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.asarray(label_ids), logits)
    return {**classification_report(label_ids, logits, class_names), "test_loss": float(loss)}


def attention_loggers(run, texts, tokenizer, config):
    """`[AttentionMapLogger]` of `texts` (padded to `sequence_length`), or `[]` without texts."""
    if not texts:
        return []
    token_ids = [np.asarray(tokenizer(text))[: config.sequence_length] for text in texts]
    probes = tokens.pad_token_ids(token_ids, width=config.sequence_length)
    probe_tokens = [[tokenizer.id_to_token(int(t)) for t in ids] for ids in token_ids]
    description = "\n\n".join(f"example_{i}: " + " ".join(pieces) for i, pieces in enumerate(probe_tokens))
    return [
        AttentionMapLogger(run.path / ATTENTION_LOG_DIR, probes, text_classification_summaries(probe_tokens), description)
    ]


def encode_labels(labels, class_names, split):
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise datasets.DataError(
            f"The {split} split has labels {unknown} that the training split lacks; known: {class_names}."
        )
    return [index[label] for label in labels]


def load_run(run_dir):
    """`(config, model, tokenizer, class_names)` of a finished run directory."""
    run = RunDirectory(run_dir)
    config = run.stored_config(Config, TASK)
    run.require(run.model_file, run.vocabulary_file, run.labels_file)
    model = run.load_model()
    tokenizer = make_tokenizer(read_lines(run.vocabulary_file), config)
    return config, model, tokenizer, read_lines(run.labels_file)


def evaluate(run_dir, data_dir=None):
    """Accuracy, per-class accuracy, confusion matrix and loss of a finished run on its test split (SST-2: GLUE dev)."""
    config, model, tokenizer, class_names = load_run(run_dir)
    if data_dir is not None:
        config.data_dir = data_dir
    test = load_data(config)["test"]
    label_ids = encode_labels(test.labels, class_names, "test")
    dataset = make_dataset(test.texts, label_ids, tokenizer, config, training=False)
    return {**report_on(model, dataset, label_ids, class_names), "test_examples": len(test)}


def probabilities_of(model, tokenizer, config, texts):
    """`(len(texts), classes)` class probabilities of `model` (with its run's tokenizer and config)."""
    dataset = make_dataset(texts, np.zeros(len(texts), "int32"), tokenizer, config, training=False)
    return keras.ops.convert_to_numpy(
        keras.ops.softmax(model.predict(dataset.map(lambda tokens, label: tokens), verbose=0))
    )


def predict(run_dir, texts):
    """Class and class probabilities of each text, from a finished run.

    Returns:
        One dict per text: `{"text", "label", "probabilities": {class: p}}`.
    """
    texts = tokens.text_list(texts, "text")
    config, model, tokenizer, class_names = load_run(run_dir)
    probabilities = probabilities_of(model, tokenizer, config, texts)
    return [
        {
            "text": text,
            "label": class_names[int(np.argmax(p))],
            "probabilities": {name: float(v) for name, v in zip(class_names, p)},
        }
        for text, p in zip(texts, probabilities)
    ]
