"""Greedy and beam-search decoding over a model's encoder/decoder split.

A *decoder* (see `zoo.translation.decoder_for`) has `encode(source_tokens) ->
state`, `start(state) -> caches` and `step(tokens, index, state, caches) ->
(logits, caches)`; states and caches are nested tensors with the batch first,
so beams are reordered with one `take`. The source is encoded once per batch
and every step feeds one token, so decoding is linear in the output length.
`compiled(decoder)` runs a decoder's `encode` and `step` as graphs.
"""

import keras
import numpy as np
from keras import ops, tree


def compiled(decoder):
    """`decoder` with `encode` and `step` run as TensorFlow graphs on the TensorFlow backend (itself on others).

    Called eagerly, a Transformer step dispatches hundreds of small ops (0.2 s a
    step on 2 CPU cores); as a graph it takes milliseconds. `reduce_retracing`
    traces each graph for the first shapes and once more with the dimensions that
    change (the caches grow every step, batches differ) left open; the position
    is a tensor, so a new step reuses the graph.
    """
    if keras.backend.backend() != "tensorflow":
        return decoder
    return _GraphDecoder(decoder)


class _GraphDecoder:
    def __init__(self, decoder):
        import tensorflow as tf

        self.encode = tf.function(decoder.encode, reduce_retracing=True)
        self.start = decoder.start
        self._step = tf.function(decoder.step, reduce_retracing=True)
        self._position = lambda index: tf.constant(index, "int32")

    def step(self, tokens, index, state, caches):
        return self._step(tokens, self._position(index), state, caches)


def _take(structure, indices):
    return tree.map_structure(lambda x: ops.take(x, indices, axis=0), structure)


def _log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def greedy(decoder, source_tokens, *, start_id, end_id, max_length):
    """The most probable next token at every step.

    Returns:
        int array `(batch, <= max_length)`: the generated ids, each row ending
        with `end_id` (unless `max_length` was reached) and padded with 0 after it.
    """
    state = decoder.encode(source_tokens)
    caches = decoder.start(state)
    tokens = np.full(len(source_tokens), start_id, dtype="int32")
    finished = np.zeros(len(source_tokens), dtype=bool)
    outputs = []
    for index in range(max_length):
        logits, caches = decoder.step(tokens, index, state, caches)
        tokens = np.where(finished, 0, np.argmax(ops.convert_to_numpy(logits), axis=-1)).astype("int32")
        outputs.append(tokens)
        finished |= tokens == end_id
        if finished.all():
            break
    return np.stack(outputs, axis=1)


def length_penalty(lengths, alpha):
    """``lp(Y) = ((5 + |Y|) / 6) ** alpha`` (Wu et al., 2016, Eq. 14)."""
    return ((5.0 + lengths) / 6.0) ** alpha


def beam_search(decoder, source_tokens, *, start_id, end_id, max_length, beam_size=4, alpha=0.6):
    """Beam search with the length penalty of Wu et al. (2016).

    Each step extends every live hypothesis by every token and keeps the
    `beam_size` best by log-probability; a finished hypothesis (it produced
    `end_id`) stays in the beam with its score unchanged. At the end each
    sentence's hypotheses are ranked by ``log P(Y|X) / lp(Y)``. With
    `beam_size=1` this is exactly greedy decoding.

    Paper: Wu et al., "Google's Neural Machine Translation System", 2016, Section 7.

    Returns:
        int array `(batch, <= max_length)` as `greedy`.
    """
    batch, beams = len(source_tokens), beam_size
    state = _take(decoder.encode(source_tokens), np.repeat(np.arange(batch), beams))
    caches = decoder.start(state)
    # All beams start identical: only the first may expand, or the beam fills with copies.
    scores = np.tile(np.array([0.0] + [-np.inf] * (beams - 1)), (batch, 1))
    sequences = np.zeros((batch, beams, 0), dtype="int32")
    finished = np.zeros((batch, beams), dtype=bool)
    lengths = np.zeros((batch, beams))
    tokens = np.full(batch * beams, start_id, dtype="int32")
    rows = np.arange(batch)[:, None]
    for index in range(max_length):
        logits, caches = decoder.step(tokens, index, state, caches)
        log_probs = _log_softmax(ops.convert_to_numpy(logits).astype("float64")).reshape(batch, beams, -1)
        vocabulary = log_probs.shape[-1]
        # A finished hypothesis continues only with padding, at no cost.
        log_probs[finished] = -np.inf
        log_probs[finished, 0] = 0.0
        candidates = (scores[..., None] + log_probs).reshape(batch, -1)
        best = np.argpartition(-candidates, beams - 1, axis=1)[:, :beams]
        best = np.take_along_axis(best, np.argsort(-np.take_along_axis(candidates, best, 1), 1, kind="stable"), 1)
        origin, new_tokens = best // vocabulary, (best % vocabulary).astype("int32")
        scores = np.take_along_axis(candidates, best, 1)
        lengths = lengths[rows, origin] + ~finished[rows, origin]
        finished = finished[rows, origin] | (new_tokens == end_id)
        sequences = np.concatenate([sequences[rows, origin], new_tokens[..., None]], axis=-1)
        caches = _take(caches, (rows * beams + origin).reshape(-1))
        tokens = new_tokens.reshape(-1)
        if finished.all():
            break
    chosen = np.argmax(scores / length_penalty(lengths, alpha), axis=1)
    return sequences[np.arange(batch), chosen]
