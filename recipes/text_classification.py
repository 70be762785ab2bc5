"""Text classification: WordPiece -> zoo model -> fit() -> TensorBoard -> accuracy.

Data: SST-2 from `$ZOO_DATA_DIR/sst2` (GLUE dev is the evaluation set; a fixed-seed
`validation_fraction` of the training sentences is held out, with the phrases
only they contain, by `recipes.data.phrases.split_off_sentences`), or any TSV/CSV with a
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

import numpy as np
import tensorflow as tf

import zoo
from layers.validation import check_bool, check_number, check_positive_int, check_text
from recipes import data as datasets
from recipes.data import phrases, tokens
from recipes.data.labels import class_names_of, label_ids
from recipes.training import optimization
from recipes.reporting.attention_logging import ATTENTION_LOG_DIR, AttentionMapLogger, text_classification_summaries
from recipes.classification import ClassificationTask, distillation_targets, one_hot
from recipes.training.run import RunDirectory, read_lines
from recipes.training.epochs import example_dataset
from recipes.task import BaseConfig, setting

SST2_COLUMNS = {"text_column": "sentence", "label_column": "label"}
DEFAULT_LEARNING_RATE = 2e-3
# Models that need a lower peak: transformer_classifier_small diverged at 2e-3 (52% on SST-2 dev) and reached 78.8% at 5e-4.
LEARNING_RATES = {"transformer_classifier_small": 5e-4}
RESERVED_TOKENS = ("[PAD]", tokens.UNK)  # [PAD] must be id 0: the models' mask_zero relies on it.


def check_run_directories(teachers):
    if teachers is not None and (isinstance(teachers, str) or not teachers or not all(isinstance(t, str) for t in teachers)):
        raise ValueError(f"`teachers` must be a non-empty list of run directories; received {teachers!r}.")


@dataclasses.dataclass
class Config(BaseConfig):
    """Every knob of the recipe. Defaults are the benchmark configuration (SST-2)."""

    task = "text-classification"

    model: str = "bilstm_attention"
    train_file: str = setting(None, help="your own training table (TSV/CSV with a header row); with test_file")
    test_file: str = setting(None, help="your own test table; with train_file")
    text_column: str = setting(SST2_COLUMNS["text_column"], check_text, help="the texts' column of train_file and test_file")
    label_column: str = setting(SST2_COLUMNS["label_column"], check_text, help="the labels' column of train_file and test_file")
    validation_fraction: float = setting(0.05, check_number, "(0, 1)", help="share of the training sentences held out for validation")
    split_seed: int = setting(None, help="seed of the validation split; None: `seed` (runs with other seeds can share one split)")
    vocabulary_size: int = setting(8000, tokens.check_vocabulary_size, RESERVED_TOKENS, help="at most this many WordPiece tokens")
    lowercase: bool = setting(True, check_bool, help="lowercase the texts before tokenizing")
    sequence_length: int = setting(64, check_positive_int, help="tokens read of each text (longer ones are cut)")
    learning_rate: float = None  # None: the model's in LEARNING_RATES, else DEFAULT_LEARNING_RATE
    weight_decay: float = setting(0.01, check_number, "[0, inf)", help="AdamW's decoupled weight decay")
    warmup_fraction: float = setting(0.1, check_number, "[0, 1)", help="share of the steps the learning rate warms up over")
    ema_momentum: float = setting(None, check_number, "[0, 1)", optional=True, help="validate, checkpoint and test an average of the weights; None: the weights")
    teachers: list = setting(None, check_run_directories, help="finished run directories (same data and validation split) to distill from; None: labels only")
    distillation_weight: float = setting(1.0, check_number, "[0, 1]", help="with teachers: share of their mean probabilities in each training target")
    run_dir: str = "runs/text_classification"

    def check_combination(self):
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
        if self.teachers is None and self.distillation_weight != 1.0:
            raise ValueError(
                f"`distillation_weight` weighs the teachers' probabilities; give `teachers` with it "
                f"(received distillation_weight={self.distillation_weight!r} and no teachers)."
            )
        model_length = self.model_options.get("sequence_length")
        if isinstance(model_length, int) and model_length < self.sequence_length:
            raise ValueError(
                f"model.sequence_length={model_length} is shorter than the sentences' sequence_length="
                f"{self.sequence_length}; set `sequence_length` alone (it sizes the model's position table too)."
            )

    def model_options_set_by_recipe(self):
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


def learn_vocabulary(texts, config):
    """WordPiece vocabulary of at most `config.vocabulary_size` tokens learned from `texts`."""
    return tokens.learn_word_piece_vocabulary(
        texts, config.vocabulary_size, reserved_tokens=RESERVED_TOKENS, lowercase=config.lowercase
    )


def make_tokenizer(vocabulary, config):
    return tokens.word_piece_tokenizer(vocabulary, lowercase=config.lowercase)


def token_dataset(texts, targets, tokenizer, config, *, order=None):
    """`tf.data` pipeline of `(token ids, target)`: the texts tokenized and truncated at once (`tokens.token_table`)
    -> (each epoch's `order`) -> batch with padding -> prefetch.

    `targets`: one per text, a class id or a distribution over the classes.

    Training batches group sentences of similar length (`bucket_by_sequence_length`)
    so little time goes into padding; other batches keep the input order.
    """
    length = config.sequence_length
    table = tokens.token_table(tokenizer, texts, length)
    dataset = example_dataset((table.ids, table.cut_lengths, np.asarray(targets)), order)
    dataset = dataset.map(lambda ids, count, target: (ids[:count], target), num_parallel_calls=tf.data.AUTOTUNE)
    if order is not None:
        boundaries = [b for b in (8, 16, 24, 32, 48, 64, 96, 128) if b < length]
        dataset = tokens.bucket_by_length(
            dataset, lambda token_ids, label: tf.shape(token_ids)[0], boundaries, config.batch_size
        )
    else:
        dataset = dataset.padded_batch(config.batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass
class Vocabulary:
    """What a text-classification run keeps: class names and the tokenizer of its vocabulary; while
    training, the targets of the training texts (labels, or with teachers their distillation)."""

    class_names: list
    tokenizer: object
    train_targets: np.ndarray = None
    teacher_costs: dict = dataclasses.field(
        default_factory=lambda: {"teacher_wall_time_seconds": 0.0, "teacher_inference_seconds": 0.0}
    )


class TextClassification(ClassificationTask):
    Config = Config
    exported_inputs = (
        "token_ids: WordPiece ids of the run's vocabulary.txt (one token a line, ids from 0; 0 pads), lower-cased "
        "first when the run's config says lowercase; the outputs are class logits in the order of labels.txt."
    )

    def load_data(self, config):
        return load_data(config)

    def prepare(self, run, splits, config, *, resuming):
        """Learns the vocabulary and class names of the training texts (a resumed run keeps its own);
        with teachers, the training targets mix in their probabilities."""
        train = splits["train"]
        class_names = run.keep_lines(run.labels_file, lambda: class_names_of(train.labels, hint=" (is `label_column` the labels' column?)"), resuming)
        teachers = self.checked_teachers(config, class_names)  # a wrong teacher is refused before the vocabulary is learned
        vocabulary = run.keep_lines(run.vocabulary_file, lambda: learn_vocabulary(train.texts, config), resuming)
        prepared = Vocabulary(class_names, make_tokenizer(vocabulary, config))
        for split in splits.values():  # a text without tokens is refused before training
            tokens.checked_token_table(prepared.tokenizer, split.texts, split.origin, config.sequence_length)
        # A label the training split lacks is refused before training.
        label_ids = {name: self.label_ids(split, prepared, name) for name, split in splits.items()}
        prepared.train_targets = one_hot(label_ids["train"], len(class_names))
        if teachers:
            probabilities, prepared.teacher_costs = self.teacher_probabilities(teachers, train.texts)
            prepared.train_targets = distillation_targets(prepared.train_targets, probabilities, config.distillation_weight)
        return prepared

    def load_prepared(self, run, config):
        return Vocabulary(read_lines(run.labels_file), make_tokenizer(read_lines(run.vocabulary_file), config))

    def run_files(self, run, config):
        return [run.vocabulary_file, *super().run_files(run, config)]

    def label_ids(self, split, prepared, name="test"):
        return label_ids(split.labels, prepared.class_names, f"The {name} split")

    def make_dataset(self, split, prepared, config, *, order=None):
        if order is not None:
            targets = prepared.train_targets
        else:
            targets = one_hot(self.label_ids(split, prepared, "validation"), len(prepared.class_names))
        return token_dataset(split.texts, targets, prepared.tokenizer, config, order=order)

    def build_model(self, config, prepared, train):
        """The zoo model with the data's vocabulary and classes, then `config.model_options`."""
        overrides = {"vocab_size": prepared.tokenizer.vocabulary_size(), "num_classes": len(prepared.class_names)}
        # Models with a position table need the longest sequence; recurrent ones take any length.
        if zoo.default_config(config.model).get("sequence_length") is not None:
            overrides["sequence_length"] = config.sequence_length
        return self.zoo_model(config, **overrides)

    def make_optimizer(self, config, schedule, steps_per_epoch):
        """AdamW, optionally averaging the weights; the loss is the cross-entropy with one-hot labels or
        distillation targets, and `accuracy` compares with the target's most probable class (the label,
        or at distillation weight 1 the teachers' vote)."""
        return optimization.make_optimizer("adamw", schedule, config.weight_decay, ema_momentum=config.ema_momentum)

    def attention_loggers(self, run, validation, prepared, config):
        """`[AttentionMapLogger]` of the first validation texts (padded to `sequence_length`)."""
        tokenizer = prepared.tokenizer
        texts = validation.texts[: config.attention_probes]
        table = tokens.token_table(tokenizer, texts, config.sequence_length)
        probes = np.pad(table.ids, [(0, 0), (0, config.sequence_length - table.ids.shape[1])])
        probe_tokens = [[tokenizer.id_to_token(int(t)) for t in ids[:count]] for ids, count in zip(table.ids, table.cut_lengths)]
        description = "\n\n".join(f"example_{i}: " + " ".join(pieces) for i, pieces in enumerate(probe_tokens))
        return [
            AttentionMapLogger(run.path / ATTENTION_LOG_DIR, probes, text_classification_summaries(probe_tokens), description)
        ]

    def run_metrics(self, config, splits, prepared, history):
        return prepared.teacher_costs

    def check_inputs(self, inputs):
        return tokens.text_list(inputs, "text")

    def predictions(self, model, texts, prepared, config):
        """`ClassificationTask.predictions` of texts given by a user: a text without tokens is an error naming it,
        and texts longer than `sequence_length` are classified from their first tokens with a warning."""
        tokens.checked_token_table(
            prepared.tokenizer, texts, lambda i: f"Text {i + 1} of {len(texts)}", config.sequence_length,
            width_name="sequence_length",
        )
        return super().predictions(model, texts, prepared, config)

    def model_inputs(self, texts, prepared, config):
        dataset = token_dataset(texts, np.zeros(len(texts), "int32"), prepared.tokenizer, config)
        return dataset.map(lambda token_ids, label: token_ids)

    def described(self, texts):
        return [{"text": text} for text in texts]

    def checked_teachers(self, config, class_names):
        """`[(run_dir, config, model, prepared)]` of `config.teachers`, each checked.

        Each teacher must be a finished run on the same data and validation split
        (`split_of`) with the same classes: a teacher that
        trained on this run's validation sentences would pass what it memorized of
        them on, and the validation accuracy would no longer measure unseen text.
        """
        teachers, ours = [], split_of(config)
        for run_dir in config.teachers or []:
            teacher, model, prepared = self.load_run(run_dir)
            teacher_run = RunDirectory(run_dir)
            teacher_run.require(teacher_run.metrics_file)
            theirs = split_of(teacher)
            differing = [f"{key} {theirs[key]!r} (this run: {ours[key]!r})" for key in ours if theirs[key] != ours[key]]
            if differing:
                raise ValueError(
                    f"Teacher {run_dir} was trained on other data or another validation split: {'; '.join(differing)}. "
                    "Train teachers with this run's data, validation_fraction and split_seed."
                )
            if prepared.class_names != class_names:
                raise ValueError(
                    f"Teacher {run_dir} predicts the classes {prepared.class_names}; this run has {class_names}."
                )
            teachers.append((run_dir, teacher, model, prepared))
        return teachers

    def teacher_probabilities(self, teachers, texts):
        """The mean class probabilities of `teachers` (`checked_teachers`) for the training `texts`, and their costs.

        Returns:
            `(probabilities (len(texts), classes), {"teacher_wall_time_seconds": the
            teachers' training time, "teacher_inference_seconds": the time spent here})`.
        """
        start = time.perf_counter()
        probabilities = [self.probabilities(model, texts, prepared, teacher) for _, teacher, model, prepared in teachers]
        wall_time = sum(RunDirectory(run_dir).read_metrics()["wall_time_seconds"] for run_dir, *_ in teachers)
        costs = {"teacher_wall_time_seconds": wall_time, "teacher_inference_seconds": time.perf_counter() - start}
        return np.mean(probabilities, axis=0), costs


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


TASK = TextClassification()
train, load_run, evaluate, predict = TASK.train, TASK.load_run, TASK.evaluate, TASK.predict
