"""WordPiece vocabularies and length-bucketed `tf.data` batches, shared by the text recipes."""

import dataclasses
import functools
import warnings

import keras_hub
import numpy as np
import tensorflow as tf

from layers.validation import check_int_at_least
from recipes.data.sources import DataError

UNK = "[UNK]"


def check_vocabulary_size(reserved_tokens, **values):
    """Raises `ValueError` unless each of `values` is an integer that holds `reserved_tokens` and one learned token."""
    check_int_at_least(len(reserved_tokens) + 1, f" (the reserved tokens {', '.join(reserved_tokens)} and one learned)", **values)


def learn_word_piece_vocabulary(texts, size, *, reserved_tokens, lowercase):
    """WordPiece vocabulary of at most `size` tokens learned from `texts` (keras-hub),
    beginning with `reserved_tokens` (the first must be the padding token, id 0).

    Learning is deterministic and slow (seconds for a few thousand texts, minutes for a
    corpus): a process that learns the same vocabulary again (a notebook or a sweep
    training several models on the same data) gets a copy of the one it learned.
    """
    return list(_learned_vocabulary(tuple(texts), size, tuple(reserved_tokens), lowercase))


@functools.lru_cache(maxsize=4)
def _learned_vocabulary(texts, size, reserved_tokens, lowercase):
    return tuple(
        keras_hub.tokenizers.compute_word_piece_vocabulary(
            tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024),
            size,
            lowercase=lowercase,
            reserved_tokens=list(reserved_tokens),
        )
    )


def text_list(texts, what):
    """`texts` (one string, or strings) as a list; `ValueError` for no texts, a non-string or a blank one.

    `what` names one text in the message ("text", "sentence"). A blank text
    has no tokens, and a model would still answer for it.
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError(f"Give at least one {what}.")
    for number, text in enumerate(texts, start=1):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{what.capitalize()} {number} of {len(texts)} is {'blank' if isinstance(text, str) else 'not text'}: {text!r}.")
    return texts


@dataclasses.dataclass(frozen=True)
class TokenTable:
    """The token ids of texts, each cut to its first `width` tokens.

    `ids`: int32 `(n, w)`, zero-padded on the right, `w` the longest cut row (at
    least 1); `lengths`: the texts' token counts before the cut.
    """

    ids: np.ndarray
    lengths: np.ndarray

    @property
    def cut_lengths(self):
        """The number of ids of each row of `ids`."""
        return np.minimum(self.lengths, self.ids.shape[1]).astype("int32")


# Texts tokenized per call: a few MB of ids at a time, whatever the corpus.
TOKENIZER_BATCH = 4096


def token_table(tokenizer, texts, width):
    """`TokenTable` of `texts` (strings) cut to `width` tokens, tokenized by a graph of `tokenizer`.

    A keras-hub tokenizer called eagerly on a list of strings converts its output
    to Python lists (0.4 ms a text: 25 s for SST-2's 67k sentences); its graph takes
    1.6 s for them, and a `tf.data` pipeline that tokenizes in a `map` traces the
    tokenizer again for every dataset it makes (about a second each).
    """
    tokenize = _graph_of(tokenizer)
    lengths, values = [np.zeros(0, "int64")], [np.zeros(0, "int32")]
    for start in range(0, len(texts), TOKENIZER_BATCH):
        ragged = tokenize(tf.constant(list(texts[start : start + TOKENIZER_BATCH]), tf.string))
        lengths.append(ragged.row_lengths().numpy())
        values.append(ragged.flat_values.numpy())
    lengths, values = np.concatenate(lengths), np.concatenate(values)
    cut = np.minimum(lengths, width)
    columns = np.arange(max(int(cut.max(initial=0)), 1))
    kept = columns < cut[:, None]
    starts = np.cumsum(lengths) - lengths
    ids = np.zeros(kept.shape, "int32")
    ids[kept] = values[(starts[:, None] + columns)[kept]]
    return TokenTable(ids, lengths)


@functools.lru_cache(maxsize=8)
def _graph_of(tokenizer):
    return tf.function(tokenizer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)


def checked_token_table(tokenizer, texts, where, width, *, width_name=None):
    """`token_table(tokenizer, texts, width)`, checked.

    A text without any token (only characters the tokenizer drops: zero-width
    spaces, soft hyphens and other format characters) is a `DataError` naming it
    and where it comes from (`where(index)`, e.g. "train.csv, line 7"): every key
    of its attention would be masked, and the model would answer NaN or a
    constant. With `width_name` (the setting that gives `width`), texts longer
    than `width` tokens give one warning saying how many are cut, the longest
    and the limit.
    """
    table = token_table(tokenizer, texts, width)
    empty = np.flatnonzero(table.lengths == 0)
    if empty.size:
        index = int(empty[0])
        raise DataError(
            f"{where(index)}: {texts[index]!r} has no token: the tokenizer drops every character of it (zero-width "
            "spaces, soft hyphens and other format characters are dropped). Remove it, or give it words."
        )
    cut = table.lengths[table.lengths > width]
    if width_name is not None and cut.size:
        warnings.warn(
            f"{cut.size} of {len(texts)} texts have more than {width} tokens (the longest {cut.max()}): the model "
            f"reads the first {width} ({width_name}={width}) and the rest is cut.",
            stacklevel=2,
        )
    return table


def word_piece_tokenizer(vocabulary, *, lowercase):
    return keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=lowercase, oov_token=UNK)


def bucket_by_length(dataset, length_of, boundaries, batch_size):
    """Batches of examples of similar length (`bucket_by_sequence_length`), padded,
    with their number known to Keras.

    Each bucket emits its full batches, then its remainder, so the count does not
    depend on the shuffle order: it is counted once and asserted.
    """
    dataset = dataset.bucket_by_sequence_length(
        length_of,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
    )
    batches = int(dataset.reduce(0, lambda count, _: count + 1))
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))
