"""WordPiece vocabularies and length-bucketed `tf.data` batches, shared by the text recipes."""

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


def checked_token_ids(tokenizer, texts, where, *, limit=None, limit_name=None):
    """The token ids of each of `texts` (lists), checked.

    A text without any token (only characters the tokenizer drops: zero-width
    spaces, soft hyphens and other format characters) is a `DataError` naming it
    and where it comes from (`where(index)`, e.g. "train.csv, line 7"): every key
    of its attention would be masked, and the model would answer NaN or a
    constant. With `limit`, texts longer than `limit` tokens give one warning
    saying how many are cut, the longest and the limit (`limit_name`, the setting).
    """
    ids = [list(row) for row in tokenizer(list(texts))]
    empty = next((index for index, row in enumerate(ids) if not row), None)
    if empty is not None:
        raise DataError(
            f"{where(empty)}: {texts[empty]!r} has no token: the tokenizer drops every character of it (zero-width "
            "spaces, soft hyphens and other format characters are dropped). Remove it, or give it words."
        )
    lengths = [len(row) for row in ids if limit is not None and len(row) > limit]
    if lengths:
        warnings.warn(
            f"{len(lengths)} of {len(ids)} texts have more than {limit} tokens (the longest {max(lengths)}): the model "
            f"reads the first {limit} ({limit_name}={limit}) and the rest is cut.",
            stacklevel=2,
        )
    return ids


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


def pad_token_ids(rows, width=None):
    """Token-id rows as one int32 array, zero-padded on the right to `width` (default: the
    longest row, at least 1); rows are assumed no longer than `width`."""
    width = width or max(map(len, rows), default=1) or 1
    ids = np.zeros((len(rows), width), dtype="int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids
