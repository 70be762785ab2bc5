"""Machine translation: WordPiece -> zoo seq2seq model -> fit() -> BLEU and chrF.

Data: Multi30k (`$ZOO_DATA_DIR/multi30k`, either direction; test is
test_2016_flickr), Anki spa-eng (70/15/15 fixed-seed split), or any TSV of
sentence pairs (`train_file`, `validation_file`, `test_file`).

>>> from recipes import translation
>>> result = translation.train(translation.Config(model="transformer_small", run_dir="runs/multi30k"))
>>> translation.translate("runs/multi30k", ["Ein Mann fährt Fahrrad."])
"""

import dataclasses
import re
import weakref

import keras
import numpy as np
import sacrebleu
import tensorflow as tf

import zoo
from layers.validation import check_bool, check_number, check_positive_int
from recipes import data as datasets
from recipes import decoding
from recipes.data import tokens
from recipes.reporting.attention_logging import ATTENTION_LOG_DIR, AttentionMapLogger, translation_summaries
from recipes.training.epochs import example_dataset
from recipes.task import BaseConfig, Task, setting
from zoo.objectives import SmoothedSparseCrossentropy, TransformerSchedule
from zoo.translation import decoder_for

PAD, START, END = "[PAD]", "[START]", "[END]"
UNK = tokens.UNK
RESERVED_TOKENS = (PAD, UNK, START, END)  # [PAD] must be id 0: the models' mask_zero relies on it.
DATASETS = tuple(datasets.PAIR_LANGUAGES)
DEFAULT_DATASET = "multi30k"
RNN_LEARNING_RATE = 1e-3  # Adam's default, as bentrevett/pytorch-seq2seq trains its attention GRU


@dataclasses.dataclass
class Config(BaseConfig):
    """Every knob of the recipe. Defaults are the benchmark configuration (Multi30k de->en)."""

    task = "translation"
    recipe_model_options = {
        "source_vocab_size": "it is the size of the source vocabulary learned from the training pairs (set `vocabulary_size`)",
        "target_vocab_size": "it is the size of the target vocabulary learned from the training pairs (set `vocabulary_size`)",
        "shared_embeddings": "set `shared_vocabulary`, which learns one vocabulary for both languages and shares its embeddings",
    }

    model: str = "transformer_small"
    dataset: str = setting(DEFAULT_DATASET, help=f"one of {list(DATASETS)}; train_file, validation_file and test_file replace it")
    direction: str = setting(None, help="source-target languages of `dataset`, e.g. de-en; None: its first into its second")
    train_file: str = setting(None, help="your own training pairs (source<TAB>target per line)")
    validation_file: str = setting(None, help="your own validation pairs")
    test_file: str = setting(None, help="your own test pairs")
    max_eval_examples: int = setting(None, check_positive_int, optional=True, help="validate and test on the first N pairs; None: all")
    shared_vocabulary: bool = setting(False, check_bool, help="one vocabulary for both languages, with shared embeddings")
    vocabulary_size: int = setting(8000, tokens.check_vocabulary_size, RESERVED_TOKENS, help="at most this many WordPiece tokens per vocabulary")
    max_length: int = setting(64, check_positive_int, help="tokens read of each sentence, and written at most")
    batch_size: int = 128
    epochs: int = 10
    learning_rate: float = None  # None: Eq. 3 for Transformers, RNN_LEARNING_RATE for the RNN models
    warmup_steps: int = setting(4000, check_positive_int, help="of Eq. 3, the Transformers' schedule when learning_rate is None; unused otherwise")
    clip_norm: float = setting(None, check_number, "(0, inf)", optional=True, help="gradient clipping by global norm; None: off")
    label_smoothing: float = setting(0.1, check_number, "[0, 1)", help="of the cross-entropy's targets")
    beam_size: int = setting(4, check_positive_int, help="beam of the test translations (1: greedy)")
    length_penalty: float = setting(0.6, check_number, "[0, inf)", help="alpha of the beam search's length penalty")
    bleu_sample_size: int = setting(200, check_positive_int, help="validation pairs translated each epoch for val_bleu")
    run_dir: str = "runs/translation"

    def check_combination(self):
        if self.dataset not in DATASETS and self.train_file is None:
            raise ValueError(f"Unknown dataset {self.dataset!r}; choose one of {DATASETS} or give train_file.")
        languages = datasets.PAIR_LANGUAGES.get(self.dataset)
        if self.direction is None and languages is not None:
            self.direction = "-".join(languages)
        if self.train_file is None:
            datasets.parse_direction(self.direction, languages)
        user_files = (self.train_file, self.validation_file, self.test_file)
        if any(user_files) and not all(user_files):
            raise ValueError("Give train_file, validation_file and test_file together (or none).")
        if any(user_files) and self.dataset != DEFAULT_DATASET:
            raise ValueError(
                f"dataset={self.dataset!r} and train_file/validation_file/test_file both choose the pairs; give one or the other."
            )
        if any(user_files) and self.direction != "-".join(datasets.PAIR_LANGUAGES[DEFAULT_DATASET]):
            raise ValueError(
                f"direction={self.direction!r} applies to the named datasets; pair files translate their first column "
                "into their second (swap the columns to reverse them)."
            )
        self.train_file, self.validation_file, self.test_file = datasets.absolute_paths(*user_files)
        model_config = self.model_config()
        if model_config.get("position_encoding") == "learned" and model_config["max_length"] < self.max_length:
            raise ValueError(
                f"The model's learned position table covers model.max_length={model_config['max_length']} tokens, "
                f"fewer than the sentences' max_length={self.max_length}; "
                f"set model.max_length to at least {self.max_length}, or max_length to at most {model_config['max_length']}."
            )


def load_data(config):
    """`{"train", "validation", "test"}` as `recipes.data.SentencePairs`."""
    if config.train_file is not None:
        splits = {
            split: datasets.read_sentence_pair_table(path)
            for split, path in (("train", config.train_file), ("validation", config.validation_file), ("test", config.test_file))
        }
    elif config.dataset == "multi30k":
        splits = datasets.read_multi30k(config.data_dir, config.direction)
    else:
        splits = datasets.read_spa_eng(config.data_dir, config.direction)
    limits = {"train": config.max_train_examples, "validation": config.max_eval_examples, "test": config.max_eval_examples}
    return {
        split: pairs if limits[split] is None else pairs.take(range(min(limits[split], len(pairs))))
        for split, pairs in splits.items()
    }


# ---------------------------------------------------------------- tokenization


def learn_vocabulary(sentences, config):
    """Cased WordPiece vocabulary (BLEU is cased) of at most `config.vocabulary_size` tokens."""
    return tokens.learn_word_piece_vocabulary(
        sentences, config.vocabulary_size, reserved_tokens=RESERVED_TOKENS, lowercase=False
    )


def make_tokenizer(vocabulary):
    return tokens.word_piece_tokenizer(vocabulary, lowercase=False)


def detokenize(tokenizer, ids):
    """Text of each row of ids, stopping at [END]; WordPiece's spaces around punctuation removed.

    WordPiece splits off punctuation ("Hut , der", "man ' s"); sacrebleu scores
    the raw text against raw references, so the split is undone: no space before
    ``. , ! ? ; : ) ] %`` or after ``( [``, none around apostrophes.
    """
    end = tokenizer.token_to_id(END)
    texts = []
    for row in np.asarray(ids):
        row = list(row)
        row = row[: row.index(end)] if end in row else row
        row = [i for i in row if i > end]  # drop padding and the reserved tokens
        text = tokenizer.detokenize(row) if row else ""
        text = re.sub(r" ([.,!?;:)\]%])", r"\1", text)
        text = re.sub(r"([(\[]) ", r"\1", text)
        texts.append(re.sub(r" ?' ?", "'", text))
    return texts


class Tokenizers:
    """Source and target tokenizers (one shared object when the vocabulary is shared)."""

    def __init__(self, source_vocabulary, target_vocabulary):
        self.source = make_tokenizer(source_vocabulary)
        self.target = self.source if target_vocabulary is source_vocabulary else make_tokenizer(target_vocabulary)
        self.start_id, self.end_id = self.target.token_to_id(START), self.target.token_to_id(END)

    def source_ids(self, sentences, max_length):
        """Padded `(n, <= max_length)` int32 source ids."""
        return tokens.token_table(self.source, sentences, max_length).ids


def vocabulary_files(run, shared):
    if shared:
        return run.vocabulary_file, run.vocabulary_file
    return run.path / "source_vocabulary.txt", run.path / "target_vocabulary.txt"


# ---------------------------------------------------------------- training


def decoding_options(tokenizers, config):
    """The start, end and length arguments of `decoding.greedy` and `decoding.beam_search`."""
    return {"start_id": tokenizers.start_id, "end_id": tokenizers.end_id, "max_length": config.max_length}


_DECODERS = weakref.WeakKeyDictionary()  # model -> its compiled decoder, which holds its layers but not the model


def model_decoder(model):
    """`decoder_for(model)` compiled (`decoding.compiled`), once per model: the BLEU and attention callbacks
    decode with it every epoch, and `translate` every batch."""
    if model not in _DECODERS:
        _DECODERS[model] = decoding.compiled(decoder_for(model), model.variables)
    return _DECODERS[model]


def greedy_ids(model, source_ids, tokenizers, config):
    """Greedy translations of padded source ids as target ids, each ending with [END] (see `decoding.greedy`)."""
    return decoding.greedy(model_decoder(model), source_ids, **decoding_options(tokenizers, config))


def translate_ids(model, source_ids, tokenizers, config, *, beam_size=1):
    """Greedy (`beam_size=1`) or beam-search translations of padded source ids, as text."""
    decoder = model_decoder(model)
    options = decoding_options(tokenizers, config)
    outputs = []
    for begin in range(0, len(source_ids), config.batch_size):
        batch = source_ids[begin : begin + config.batch_size]
        batch = batch[:, : max(1, int((batch != 0).sum(1).max()))]  # drop all-padding columns
        if beam_size == 1:
            ids = decoding.greedy(decoder, batch, **options)
        else:
            ids = decoding.beam_search(decoder, batch, beam_size=beam_size, alpha=config.length_penalty, **options)
        outputs.extend(detokenize(tokenizers.target, ids))
    return outputs


def score(hypotheses, references):
    """Corpus BLEU and chrF (sacrebleu defaults: 13a tokenization, cased)."""
    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }


class BleuCallback(keras.callbacks.Callback):
    """Adds `val_bleu` and `val_chrf` (greedy, on a fixed validation sample) to each epoch's logs.

    Place it before the checkpoint and TensorBoard callbacks, which read them.
    """

    def __init__(self, pairs, tokenizers, config):
        super().__init__()
        self.references = list(pairs.targets)
        self.source_ids = tokenizers.source_ids(pairs.sources, config.max_length)
        self.tokenizers, self.config = tokenizers, config

    def on_epoch_end(self, epoch, logs=None):
        hypotheses = translate_ids(self.model, self.source_ids, self.tokenizers, self.config)
        scores = score(hypotheses, self.references)
        if logs is not None:
            logs["val_bleu"], logs["val_chrf"] = scores["bleu"], scores["chrf"]


def own_translation_inputs(model, source_ids, tokenizers, config):
    """Model inputs that feed the model its own greedy translation of `source_ids` as the target.

    With them, `zoo.attention_maps(model, inputs)` shows where the model
    looked for each token it wrote: row t of the cross-attention (or
    alignment) is the step that emitted token t + 1, the last row the one that
    emitted [END].
    """
    ids = greedy_ids(model, source_ids, tokenizers, config)
    # A translation ends at [END] (predicted, never read) or at a stray [PAD] an untrained model may write.
    ended = np.cumsum((ids == tokenizers.end_id) | (ids == 0), axis=1) > 0
    # The last of `max_length` tokens is read by no step that writes one: the target stays within max_length.
    ids = np.where(ended, 0, ids)[:, : config.max_length - 1]
    target_in = np.concatenate([np.full((len(ids), 1), tokenizers.start_id, "int32"), ids], axis=1)
    return {"source_tokens": source_ids, "target_tokens_in": target_in}


class Translation(Task):
    Config = Config
    monitor = "val_bleu"
    examples = "pairs"
    exported_inputs = (
        "source_tokens (ids of the source vocabulary) and target_tokens_in (the translation so far, from the start "
        "token) -> next-token logits. Greedy and beam-search decoding (recipes.decoding) are Python loops around "
        "this network and are not in the file: run one around it, or use zoo translate."
    )

    def load_data(self, config):
        return load_data(config)

    def prepare(self, run, splits, config, *, resuming):
        """Learns the vocabularies of the training pairs (one shared, or one per language) and returns
        `Tokenizers`; a resumed run (`splits` None: a finished one) reads back its own."""
        source_file, target_file = vocabulary_files(run, config.shared_vocabulary)
        train = splits["train"] if splits else None
        if config.shared_vocabulary:
            shared = run.keep_lines(source_file, lambda: learn_vocabulary(train.sources + train.targets, config), resuming)
            tokenizers = Tokenizers(shared, shared)
        else:
            tokenizers = Tokenizers(
                run.keep_lines(source_file, lambda: learn_vocabulary(train.sources, config), resuming),
                run.keep_lines(target_file, lambda: learn_vocabulary(train.targets, config), resuming),
            )
        for name, pairs in (splits or {}).items():  # a sentence without tokens is refused before training
            for side, sentences, tokenizer in (("source", pairs.sources, tokenizers.source), ("target", pairs.targets, tokenizers.target)):
                tokens.checked_token_table(
                    tokenizer, sentences, lambda i: f"The {side} of {name} pair {i + 1} of {len(pairs)}", config.max_length
                )
        return tokenizers

    def make_dataset(self, pairs, tokenizers, config, *, order=None):
        """`({"source_tokens", "target_tokens_in"}, target_tokens_out)` batches.

        The target is packed as ``[START] w_1 .. w_n [END]``; the model reads it
        without the last token and predicts it without the first. Batches group
        pairs of similar length (`bucket_by_sequence_length`), so little compute goes
        into padding; training takes the pairs in each epoch's `order`.
        """
        length = config.max_length
        start, end = tokenizers.start_id, tokenizers.end_id

        sources = tokens.token_table(tokenizers.source, pairs.sources, length)
        targets = tokens.token_table(tokenizers.target, pairs.targets, length - 1)

        def encode(source_ids, source_count, target_ids, target_count):
            packed = tf.concat([[start], target_ids[:target_count], [end]], axis=0)
            inputs = {"source_tokens": source_ids[:source_count], "target_tokens_in": packed[:-1]}
            return inputs, packed[1:]

        examples = (sources.ids, sources.cut_lengths, targets.ids, targets.cut_lengths)
        dataset = example_dataset(examples, order)
        dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
        boundaries = [b for b in (8, 12, 16, 20, 24, 32, 48, 64, 96) if b < length]
        dataset = tokens.bucket_by_length(
            dataset,
            lambda inputs, target: tf.maximum(tf.shape(inputs["source_tokens"])[0], tf.shape(target)[0]),
            boundaries,
            config.batch_size,
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    def build_model(self, config, tokenizers, train):
        overrides = {
            "source_vocab_size": tokenizers.source.vocabulary_size(),
            "target_vocab_size": tokenizers.target.vocabulary_size(),
        }
        if "shared_embeddings" in zoo.default_config(config.model):
            overrides["shared_embeddings"] = config.shared_vocabulary
        return self.zoo_model(config, **overrides)

    def compile_options(self, config, steps_per_epoch):
        """Adam(0.9, 0.98, 1e-9); smoothed loss; token accuracy.

        The learning rate is `config.learning_rate` if set, else Eq. 3 for the
        Transformers (their `hidden_dim` is d_model) and `RNN_LEARNING_RATE` for
        the recurrent models.
        """
        model_config = config.model_config()
        if config.learning_rate is not None:
            learning_rate = config.learning_rate
        elif "hidden_dim" in model_config:
            learning_rate = TransformerSchedule(model_config["hidden_dim"], config.warmup_steps)
        else:
            learning_rate = RNN_LEARNING_RATE
        return {
            "optimizer": keras.optimizers.Adam(
                learning_rate, beta_1=0.9, beta_2=0.98, epsilon=1e-9, global_clipnorm=config.clip_norm
            ),
            "loss": SmoothedSparseCrossentropy(config.label_smoothing),
            "metrics": [keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        }

    def load_prepared(self, run, config):
        return self.prepare(run, None, config, resuming=True)

    def run_files(self, run, config):
        return list(vocabulary_files(run, config.shared_vocabulary))

    def fit_options(self, run, splits, prepared, config, train_data):
        """BLEU and chrF of a fixed validation sample each epoch (`val_bleu` picks the best model), the
        target tokens per epoch for the throughput, and attention probes from the sample."""
        tokens_per_epoch = int(train_data.reduce(0, lambda n, batch: n + tf.math.count_nonzero(batch[1], dtype=tf.int32)))
        sample = splits["validation"].take(range(min(config.bleu_sample_size, len(splits["validation"]))))
        return {
            **super().fit_options(run, {"validation": sample}, prepared, config, train_data),
            "tokens_per_epoch": tokens_per_epoch,
            "epoch_metrics": [BleuCallback(sample, prepared, config)],
        }

    def attention_loggers(self, run, validation, tokenizers, config):
        """`[AttentionMapLogger]` of the first validation pairs.

        Every epoch the model translates the probe sources greedily and reads its
        own translation as the target, so the logged cross-attention is where it
        looked for each word it wrote.
        """
        pairs = validation.take(range(min(config.attention_probes, len(validation))))
        source_ids = tokenizers.source_ids(pairs.sources, config.max_length)
        summaries = translation_summaries(
            pairs.sources,
            pairs.targets,
            source_tokens=[[tokenizers.source.id_to_token(int(i)) for i in row if i] for row in source_ids],
            target_tokens=lambda ids: [tokenizers.target.id_to_token(int(i)) for i in ids],
            detokenize=lambda ids: detokenize(tokenizers.target, ids),
        )
        return [
            AttentionMapLogger(
                run.path / ATTENTION_LOG_DIR, lambda model: own_translation_inputs(model, source_ids, tokenizers, config), summaries
            )
        ]

    def test_report(self, model, test, prepared, config):
        """BLEU and chrF of greedy and of beam-search translations, and five samples."""
        source_ids = prepared.source_ids(test.sources, config.max_length)
        greedy = translate_ids(model, source_ids, prepared, config)
        beam = translate_ids(model, source_ids, prepared, config, beam_size=config.beam_size)
        return {
            **{f"test_{k}_greedy": v for k, v in score(greedy, test.targets).items()},
            **{f"test_{k}_beam": v for k, v in score(beam, test.targets).items()},
            "beam_size": config.beam_size,
            "samples": [
                {"source": s, "reference": r, "greedy": g, "beam": b}
                for s, r, g, b in list(zip(test.sources, test.targets, greedy, beam))[:5]
            ],
        }

    def evaluation_report(self, model, test, prepared, config):
        """Test BLEU and chrF with beam search (the run's beam size)."""
        hypotheses = self.translations(model, test.sources, prepared, config)
        return {f"test_{k}": v for k, v in score(hypotheses, test.targets).items()}

    def run_metrics(self, config, splits, prepared, history):
        return {"direction": config.direction if config.train_file is None else None}  # files: first column -> second

    def throughput(self, history):
        return {"train_tokens_per_second": float(np.median(history["tokens_per_second"]))}

    def check_inputs(self, sentences):
        return tokens.text_list(sentences, "sentence")

    def translations(self, model, sentences, tokenizers, config, beam_size=None):
        """The translation of each sentence: beam search of `beam_size` (None: the run's)."""
        beam_size = config.beam_size if beam_size is None else beam_size
        source_ids = tokenizers.source_ids(sentences, config.max_length)
        return translate_ids(model, source_ids, tokenizers, config, beam_size=beam_size)

    def predictions(self, model, sentences, tokenizers, config, beam_size=None):
        """`{"source", "translation"}` per sentence given by a user: a sentence without tokens is an error naming
        it, and sentences longer than `max_length` are translated from their first `max_length` tokens with a warning."""
        tokens.checked_token_table(
            tokenizers.source, sentences, lambda i: f"Sentence {i + 1} of {len(sentences)}", config.max_length,
            width_name="max_length",
        )
        translations = self.translations(model, sentences, tokenizers, config, beam_size)
        return [{"source": s, "translation": t} for s, t in zip(sentences, translations)]

    def translate(self, run_dir, sentences, beam_size=None):
        """Translations of `sentences` by a finished run (beam search of the run's size by default)."""
        check_positive_int(optional=True, beam_size=beam_size)
        sentences = self.check_inputs(sentences)
        config, model, tokenizers = self.loaded_run(run_dir)
        return [p["translation"] for p in self.predictions(model, sentences, tokenizers, config, beam_size=beam_size)]


TASK = Translation()
train, load_run, evaluate, predict, translate = TASK.train, TASK.load_run, TASK.evaluate, TASK.predict, TASK.translate
