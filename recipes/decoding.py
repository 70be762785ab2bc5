"""Greedy and beam-search decoding over a model's encoder/decoder split.

A *decoder* (see `zoo.translation.decoder_for`) has `encode(source_tokens) ->
state`, `start(state) -> caches` and `step(tokens, index, state, caches) ->
(logits, caches)`; states and caches are nested tensors with the batch first,
so beams are reordered with one `take`. The source is encoded once per batch
and every step feeds one token, so decoding is linear in the output length.
`compiled(decoder, variables)` runs a decoder's `encode` and `step` compiled (TensorFlow graphs, `jax.jit`).
"""

import keras
import numpy as np
from keras import ops, tree


def compiled(decoder, variables):
    """`decoder` with `encode` and `step` compiled: TensorFlow graphs on TensorFlow, XLA computations (`jax.jit`) on
    JAX; `variables` are those of the model it decodes (`model.variables`).

    Called eagerly, a Transformer step dispatches hundreds of small ops (0.2 s a
    step on 2 CPU cores on TensorFlow; on JAX each op is also compiled again for
    every new cache length); compiled, it takes milliseconds. TensorFlow's
    `reduce_retracing` traces each graph for the first shapes and once more with
    the dimensions that change (the caches grow every step, batches differ) left
    open; JAX compiles a step once per cache length. The position is a tensor, so
    a new step reuses what was compiled. Both read the weights at each call: a
    model still training (BLEU after each epoch) decodes with its current weights.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _GraphDecoder(decoder)
    if backend == "jax":
        return _JaxDecoder(decoder, variables)
    return decoder


class _GraphDecoder:
    def __init__(self, decoder):
        import tensorflow as tf

        self.encode = tf.function(decoder.encode, reduce_retracing=True)
        self.start = decoder.start
        self._step = tf.function(decoder.step, reduce_retracing=True)
        self._position = lambda index: tf.constant(index, "int32")

    def step(self, tokens, index, state, caches):
        return self._step(tokens, self._position(index), state, caches)


class _JaxDecoder:
    """`encode` and `step` as pure functions of the variables' values (`keras.StatelessScope`), jitted."""

    def __init__(self, decoder, variables):
        self.variables = list(variables)
        self.encode = self._jitted(decoder.encode)
        self.start = decoder.start
        self._step = self._jitted(decoder.step)

    def _jitted(self, function):
        import jax

        def pure(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(self.variables, values))):
                return function(*args)

        compiled = jax.jit(pure)
        return lambda *args: compiled([variable.value for variable in self.variables], *args)

    def step(self, tokens, index, state, caches):
        return self._step(tokens, np.int32(index), state, caches)


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
