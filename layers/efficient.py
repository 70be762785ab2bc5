"""Efficient attention for long sequences: time and memory linear in the sequence length `n`, not quadratic.

* `LinformerAttention` (Wang et al., 2020): keys and values projected along the sequence from `n` to `k` rows,
  O(n k).
* `SlidingWindowAttention` (local attention; the sliding window of Beltagy et al., 2020): each query attends to the
  keys within `window` positions, computed in blocks, O(n w).
* `PerformerAttention` (Choromanski et al., 2021, FAVOR+): softmax attention through positive orthogonal random
  features, O(n m).

Each is a `layers.MultiHeadAttention` in all but the attention itself: the same projections and weights (in Keras'
order), the package's call convention, implicit and explicit padding masks, rows of padded queries set to 0. What
they do not take: an `attention_mask` (any `(T_q, T_k)` pattern is quadratic; each layer attends its own pattern)
and a key/value `cache`.
"""

import math

import keras
import numpy as np
from keras import ops

from layers import core
from layers.multi_head import MultiHeadAttention
from layers.validation import check_choice, check_positive_int


class _LongSequenceAttention(MultiHeadAttention):
    """What the efficient layers share: the projections of `MultiHeadAttention`, the call convention with padding
    and causal masks, and the zero rows of padded queries. A subclass implements `attend_heads`."""

    # Whether `use_causal_mask=True` is possible, and why not when it is not.
    causal_refusal = None

    def attend_heads(self, query, key, value, value_mask, use_causal_mask, training, return_attention_scores):
        """`(context, weights)`: the heads' contexts `(batch, T_q, H, d_v)` from their queries, keys and values
        `(batch, T, H, d)`; `value_mask` is `(batch, T_k)` boolean or None; `weights` None unless requested. A
        subclass may take more call arguments as keywords (Linformer's `shared_projection`)."""
        raise NotImplementedError

    def call(
        self,
        query,
        value,
        key=None,
        *,
        query_mask=None,
        value_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        **attend_options,
    ):
        name = type(self).__name__
        if attention_mask is not None:
            raise ValueError(
                f"{name} takes padding masks (`query_mask`, `value_mask`, implicit masks) and `use_causal_mask`, not "
                "an `attention_mask`: a pattern over every (query, key) pair costs n^2, which this layer avoids."
            )
        if use_causal_mask and self.causal_refusal:
            raise ValueError(f"{name} cannot be causal (use_causal_mask=True): {self.causal_refusal}")
        core.check_sequences(query, value, key)
        key = value if key is None else key
        core.check_padding_masks(query, key, query_mask=query_mask, value_mask=value_mask)
        value_mask = None if value_mask is None else ops.cast(value_mask, "bool")
        context, weights = self.attend_heads(
            self.project_heads(query, "query"),
            self.project_heads(key, "key"),
            self.project_heads(value, "value"),
            value_mask,
            use_causal_mask,
            training,
            return_attention_scores,
            **attend_options,
        )
        if query_mask is not None:
            real = ops.cast(query_mask, "bool")
            context = ops.where(real[:, :, None, None], context, ops.zeros_like(context))
            if weights is not None:
                weights = ops.where(real[:, None, :, None], weights, ops.zeros_like(weights))
        output = self.merge_heads(context)
        return (output, weights) if return_attention_scores else output

    def project_key_value(self, value, key=None):
        raise ValueError(f"{type(self).__name__} keeps no key/value cache; incremental decoding uses MultiHeadAttention.")


def _zero_padded(x, mask):
    """`x` `(batch, T, H, d)` with the steps where `mask` `(batch, T)` is False set to 0."""
    return x if mask is None else ops.where(mask[:, :, None, None], x, ops.zeros_like(x))


# ---------------------------------------------------------------------------------------------------- Linformer

LINFORMER_SHARING = ("none", "headwise", "key_value", "layerwise")


def _projection_initializer(max_length, projected_length):
    """Uniform in ``±sqrt(3 / (n + k))``, the reference implementation's (fairseq: `xavier_uniform_`, gain 1/sqrt(2))."""
    limit = math.sqrt(3.0 / (max_length + projected_length))
    return keras.initializers.RandomUniform(-limit, limit)


@keras.saving.register_keras_serializable(package="layers")
class LinformerProjection(keras.layers.Layer):
    """The one ``(k, n)`` projection ``E`` that every `LinformerAttention(sharing="layerwise")` of a model shares
    (Wang et al., 2020, Section 4: one matrix for all layers, heads, keys and values).

    Called on any tensor of the model (only to place it in the functional graph), it returns ``E``, which each
    layer takes as its `shared_projection` call argument; a functional model then saves ``E`` once and keeps it
    shared when loaded. `zoo` builders wire it through `layers.transformer.encoder_stack`.

    Example:

    >>> x = keras.Input((100, 32))
    >>> projection = LinformerProjection(max_length=100, projected_length=16)(x)
    >>> attention = LinformerAttention(4, 8, max_length=100, projected_length=16, sharing="layerwise")
    >>> y = attention(x, x, shared_projection=projection)
    >>> tuple(projection.shape), tuple(y.shape)
    ((16, 100), (None, 100, 32))
    """

    def __init__(self, max_length, projected_length=256, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(max_length=max_length, projected_length=projected_length)
        self.max_length = max_length
        self.projected_length = projected_length
        self.supports_masking = True  # the input's mask is not this output's: `compute_mask` gives none

    def build(self, input_shape):
        self.projection = self.add_weight(
            name="projection",
            shape=(self.projected_length, self.max_length),
            initializer=_projection_initializer(self.max_length, self.projected_length),
        )

    def call(self, inputs):
        return ops.convert_to_tensor(self.projection)

    def compute_output_shape(self, input_shape):
        return (self.projected_length, self.max_length)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length, "projected_length": self.projected_length}


@keras.saving.register_keras_serializable(package="layers")
class LinformerAttention(_LongSequenceAttention):
    """Linformer attention (Wang et al., 2020): multi-head attention over keys and values projected along the
    sequence, ``head_h = softmax(Q W_h^Q (E_h K W_h^K)^T / sqrt(d_k)) F_h V W_h^V`` with learned ``E_h, F_h`` of
    shape ``(k, n)``: O(n k) time and memory instead of O(n^2).

    `n` is `max_length`; a shorter sequence uses the first columns of ``E`` and ``F`` (as if padded with zeros to
    `n`). Padded keys and values are set to 0 before the projection, so padding never changes an output. The
    projection mixes all positions, future ones included: causal use is refused. ``E`` and ``F`` start uniform in
    ``±sqrt(3 / (n + k))``, the reference implementation's (fairseq: `xavier_uniform_` with gain ``1/sqrt(2)``).
    With `sharing="layerwise"` the layer holds no ``E``: each call takes the model's one ``E = F``
    (`LinformerProjection`) as `shared_projection`.

    Paper: Wang, Li, Khabsa, Fang, Ma, "Linformer: Self-Attention with Linear Complexity", arXiv:2006.04768, 2020.

    Args:
        num_heads, key_dim, value_dim, dropout, use_bias, output_dim, kernel_initializer, bias_initializer: as
            `MultiHeadAttention` (`dropout` acts on the weights over the `k` projected keys).
        max_length: `n`, the longest key sequence.
        projected_length: `k`, the rows keys and values are projected to (the paper's 128 or 256).
        sharing: the paper's parameter sharing (Section 4): "none" (``E_h``, ``F_h`` per head), "headwise" (one
            ``E``, one ``F`` for all heads), "key_value" (one ``E = F`` for all heads), "layerwise" (one ``E = F``
            for all heads and all layers of a model, given at each call).

    Call arguments: as `MultiHeadAttention`, without `attention_mask`, `cache` and `use_causal_mask=True`;
        `shared_projection`: with `sharing="layerwise"` (and only then), the model's ``E``
        `(projected_length, max_length)`, the output of a `LinformerProjection`.

    Returns:
        `(batch, T_q, output_dim)`, and with `return_attention_scores=True` the weights
        `(batch, H, T_q, projected_length)` over the projected keys (rows sum to 1; 0 for padded queries).

    Example:

    >>> attention = LinformerAttention(num_heads=4, key_dim=8, max_length=512, projected_length=64)
    >>> x = keras.random.normal((2, 300, 32))
    >>> y, weights = attention(x, x, return_attention_scores=True)
    >>> tuple(y.shape), tuple(weights.shape)
    ((2, 300, 32), (2, 4, 300, 64))
    """

    causal_refusal = "its projection along the sequence mixes every position, later ones included."
    cost = "O(n k)"

    def __init__(self, num_heads, key_dim, max_length, projected_length=256, sharing="none", **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        check_positive_int(max_length=max_length, projected_length=projected_length)
        check_choice(LINFORMER_SHARING, sharing=sharing)
        self.max_length = max_length
        self.projected_length = projected_length
        self.sharing = sharing

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        if self.sharing == "layerwise":
            return
        shape = (self.projected_length, self.max_length)
        if self.sharing == "none":
            shape = (self.num_heads, *shape)
        initializer = _projection_initializer(self.max_length, self.projected_length)
        self.key_projection = self.add_weight(name="key_projection", shape=shape, initializer=initializer)
        self.value_projection = (
            self.key_projection
            if self.sharing == "key_value"
            else self.add_weight(name="value_projection", shape=shape, initializer=initializer)
        )

    # What the weights are, for `zoo.attention_maps`: over the projected keys, `(batch, heads, T_q, k)`.
    attention_kinds = ("projected",)

    def _project_sequence(self, projection, x):
        length = x.shape[1]
        if length is not None and length > self.max_length:
            raise ValueError(
                f"{type(self).__name__} takes at most max_length={self.max_length} keys; received {length}. "
                "Build it with a larger `max_length`."
            )
        projection = projection[..., : ops.shape(x)[1]]
        equation = "nks,bsnh->bknh" if self.sharing == "none" else "ks,bsnh->bknh"
        return ops.einsum(equation, ops.cast(projection, x.dtype), x)

    def _projections(self, shared_projection):
        """`(E, F)`: the layer's own, or with `sharing="layerwise"` the model's `shared_projection` twice."""
        name = type(self).__name__
        if self.sharing != "layerwise":
            if shared_projection is not None:
                raise ValueError(
                    f"{name}(sharing={self.sharing!r}) projects with its own weights; `shared_projection` is for "
                    'sharing="layerwise".'
                )
            return self.key_projection, self.value_projection
        expected = (self.projected_length, self.max_length)
        if shared_projection is None:
            raise ValueError(
                f'{name}(sharing="layerwise") takes the model\'s projection at each call: pass shared_projection=E, '
                f"E of shape {expected}, the output of LinformerProjection({self.max_length}, {self.projected_length})."
            )
        if tuple(shared_projection.shape) != expected:
            raise ValueError(
                f"`shared_projection` must have shape (projected_length, max_length) = {expected}; received "
                f"{tuple(shared_projection.shape)}."
            )
        return shared_projection, shared_projection

    def attend_heads(
        self, query, key, value, value_mask, use_causal_mask, training, return_attention_scores, shared_projection=None
    ):
        key_projection, value_projection = self._projections(shared_projection)
        key = self._project_sequence(key_projection, _zero_padded(key, value_mask))
        value = self._project_sequence(value_projection, _zero_padded(value, value_mask))
        context, weights = core.scaled_dot_product(
            query,
            key,
            value,
            scale=1.0 / math.sqrt(self.key_dim),
            dropout=self._dropout_layer,
            training=training,
            return_attention_scores=return_attention_scores,
        )
        return context, weights

    def get_config(self):
        return {
            **super().get_config(),
            "max_length": self.max_length,
            "projected_length": self.projected_length,
            "sharing": self.sharing,
        }


# ---------------------------------------------------------------------------------------------------- sliding window


# Query blocks per chunk on the memory-lean path of `SlidingWindowAttention`. XLA's plan for a gradient step at
# n = 8192, w = 256, blocks of 128 (benchmarks/attention_scaling.py): 319 MiB with chunks of 4 blocks, 333 with 8,
# 443 with 16, 1,022 with one chunk of all 64; 8 runs half the sequential steps of 4 for 4% more memory.
CHUNK_BLOCKS = 8


def _frames(x, step, count, start, width, fill=0):
    """`(batch, count, width, ...)`: frame ``i`` holds steps ``i step - start`` ... ``i step - start + width - 1``
    of `x` `(batch, T, ...)`, with `fill` outside `x` (`count` frames cover `x` when ``count step >= T`` and
    ``width >= step + start``)."""
    end = (count - 1) * step + width - start - ops.shape(x)[1]
    padded = ops.pad(x, [(0, 0), (start, end)] + [(0, 0)] * (len(x.shape) - 2), constant_values=fill)
    return ops.take(padded, ops.arange(count)[:, None] * step + ops.arange(width)[None, :], axis=1)


@keras.saving.register_keras_serializable(package="layers")
class SlidingWindowAttention(_LongSequenceAttention):
    """Sliding-window (local) multi-head self-attention: query ``i`` attends to keys ``j`` with ``|i - j| <= w``
    (``i - w <= j <= i`` when causal), ``head_h = softmax_{j in window(i)}(q_i . k_j / sqrt(d_k)) v_j``.

    Computed in blocks of `block_size` queries, each against the keys of its block and of the neighbouring blocks
    its window reaches (Beltagy et al., 2020, Section 3.2's "sliding chunks"), so time and memory grow as O(n w), not
    as a full matrix with a band mask; the numbers are those of full attention under the band mask. Without returned
    weights or active dropout the blocks go in chunks of `CHUNK_BLOCKS`, one after another, and the gradient
    recomputes each chunk's scores instead of keeping them (`keras.remat`): the memory of a training step holds one
    chunk's scores, not the sequence's. Queries and keys are one sequence (self-attention: `T_q == T_k`).

    Paper: Beltagy, Peters, Cohan, "Longformer: The Long-Document Transformer", arXiv:2004.05150, 2020.

    Args:
        num_heads, key_dim, value_dim, dropout, use_bias, output_dim, kernel_initializer, bias_initializer: as
            `MultiHeadAttention`.
        window: `w`, the keys attended on each side of a query (one side when causal).
        block_size: queries per block (at most `w`): a block of `b` queries scores `b + 2 b ceil(w / b)` keys (causal:
            `b + b ceil(w / b)`), so a smaller block wastes less outside the band and runs more, smaller products.

    Call arguments: as `MultiHeadAttention`, without `attention_mask` and `cache`.

    Returns:
        `(batch, T, output_dim)`, and with `return_attention_scores=True` the weights in a compact layout
        `(batch, H, T, 2w + 1)`: entry ``[..., i, o]`` is the weight of key ``i - w + o`` (0 where that key is outside
        the sequence, or after the query when causal). `window_weights_as_matrix` expands them to `(batch, H, T, T)`.

    Example:

    >>> attention = SlidingWindowAttention(num_heads=4, key_dim=8, window=16)
    >>> x = keras.random.normal((2, 100, 32))
    >>> y, weights = attention(x, x, use_causal_mask=True, return_attention_scores=True)
    >>> tuple(y.shape), tuple(weights.shape)
    ((2, 100, 32), (2, 4, 100, 33))
    """

    cost = "O(n w)"

    def __init__(self, num_heads, key_dim, window=256, block_size=128, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        check_positive_int(window=window, block_size=block_size)
        self.window = window
        self.block_size = block_size

    # What the weights are, for `zoo.attention_maps`: the compact layout `(batch, heads, T, W)`.
    attention_kinds = ("window",)

    def attend_heads(self, query, key, value, value_mask, use_causal_mask, training, return_attention_scores):
        if None not in (query.shape[1], key.shape[1]) and query.shape[1] != key.shape[1]:
            raise ValueError(
                f"{type(self).__name__} attends within one sequence: the query and the keys must have the same "
                f"length; received {query.shape[1]} queries and {key.shape[1]} keys."
            )
        window = self.window
        block = min(window, self.block_size)
        reach = -(-window // block) * block  # the steps of the neighbouring blocks a query block reaches before it
        ahead = 0 if use_causal_mask else reach  # and after it
        length = ops.shape(query)[1]
        blocks = (length + block - 1) // block
        if value_mask is None:
            value_mask = ops.ones(ops.shape(key)[:2], dtype="bool")
        # Without weights or dropout the queries go in chunks of `CHUNK_BLOCKS` blocks, one after another, each
        # recomputed for the gradient rather than kept: memory then holds one chunk's scores, not the sequence's.
        lean = not (return_attention_scores or core.dropout_active(self._dropout_layer, training))
        if not lean:
            chunk_blocks = blocks
        elif isinstance(blocks, int):
            chunk_blocks = min(blocks, CHUNK_BLOCKS)
        else:  # a TensorFlow graph of sequences of any length
            chunk_blocks = ops.minimum(blocks, CHUNK_BLOCKS)
        span = chunk_blocks * block
        chunks = (blocks + chunk_blocks - 1) // chunk_blocks
        width = reach + span + ahead
        keys_allowed = ops.cast(value_mask, query.dtype)  # a number: TensorFlow's `remat` differentiates its arguments
        # (batch, chunks, steps, ...): each chunk's queries, and the keys, values and mask its windows reach.
        framed = (
            _frames(query, span, chunks, 0, span),
            *(_frames(x, span, chunks, reach, width) for x in (key, value, keys_allowed)),
        )
        # Key c of a block's neighbourhood is `offset = c - reach - r` steps from query r of the block, which may
        # see it when -window <= offset <= window (0 when causal).
        neighbourhood = reach + block + ahead
        offsets = np.arange(neighbourhood)[None, :] - reach - np.arange(block)[:, None]
        band = (offsets >= -window) & (offsets <= (0 if use_causal_mask else window))
        scale = 1.0 / math.sqrt(self.key_dim)

        def attend_chunk(queries, keys, values, allowed):
            """`(context (batch, span, H, d_v), weights (batch, H, blocks, block, neighbourhood))` of one chunk."""
            queries = _frames(queries, block, chunk_blocks, 0, block)
            keys, values, allowed = (_frames(x, block, chunk_blocks, 0, neighbourhood) for x in (keys, values, allowed))
            mask = ops.logical_and(band[None, None], allowed[:, :, None, :] > 0)  # (batch, blocks, block, neighbourhood)
            scores = ops.einsum("bnqhd,bnkhd->bhnqk", queries, keys) * ops.cast(scale, queries.dtype)
            weights = core.masked_softmax(scores, mask[:, None])
            context = ops.einsum("bhnqk,bnkhd->bnqhd", self._dropout_layer(weights, training=training), values)
            return ops.reshape(context, (ops.shape(context)[0], span, *context.shape[3:])), weights

        if lean:
            remat_context = keras.remat(lambda *chunk: attend_chunk(*chunk)[0])
            context = ops.map(lambda chunk: remat_context(*chunk), tuple(ops.moveaxis(x, 1, 0) for x in framed))
            context = ops.reshape(ops.moveaxis(context, 0, 1), (ops.shape(query)[0], chunks * span, *context.shape[3:]))
            return context[:, :length], None
        context, weights = attend_chunk(*(x[:, 0] for x in framed))
        return context[:, :length], (_compact_weights(weights, window, reach)[:, :, :length] if return_attention_scores else None)

    def get_config(self):
        return {**super().get_config(), "window": self.window, "block_size": self.block_size}


def _compact_weights(weights, window, reach):
    """`SlidingWindowAttention`'s compact layout `(batch, H, blocks x block, 2 window + 1)` of the weights of its blocks
    `(batch, H, blocks, block, neighbourhood)`, whose neighbourhoods start `reach` keys before their blocks: key
    ``i - window + o`` of query ``i`` is column ``c = o - window + reach + r`` of query ``r``'s row; a causal
    neighbourhood ends at the query (0 after)."""
    block, neighbourhood = weights.shape[-2:]
    columns = np.arange(block)[:, None] + np.arange(2 * window + 1)[None, :] + reach - window
    reached = columns < neighbourhood
    compact = ops.take_along_axis(weights, ops.convert_to_tensor(np.where(reached, columns, 0)[None, None, None]), axis=-1)
    compact = ops.where(reached, compact, ops.zeros_like(compact))
    return ops.reshape(compact, (*ops.shape(compact)[:2], -1, 2 * window + 1))


def window_weights_as_matrix(weights):
    """The weights of `SlidingWindowAttention` as `(..., T, T)` (NumPy), from its compact layout `(..., T, 2w + 1)`
    in which ``[..., i, o]`` is the weight of key ``i - w + o``; keys outside every window get 0."""
    weights = np.asarray(weights)
    length, width = weights.shape[-2], weights.shape[-1]
    window = (width - 1) // 2
    matrix = np.zeros(weights.shape[:-1] + (length,), weights.dtype)
    for offset in range(width):
        rows = np.arange(length)
        keys = rows - window + offset
        inside = (keys >= 0) & (keys < length)
        matrix[..., rows[inside], keys[inside]] = weights[..., rows[inside], offset]
    return matrix


# ---------------------------------------------------------------------------------------------------- Performer


def orthogonal_random_features(count, width, seed):
    """`(count, width)` Gaussian rows made orthogonal in blocks of `width` (Choromanski et al., 2021, Section 4.2):
    each block the Q factor of a Gaussian matrix, each row rescaled to the length of a Gaussian vector, so every row
    is marginally N(0, I) while rows of one block are exactly orthogonal. `seed`: an int or `keras.random.SeedGenerator`.

    Q's columns are multiplied by the signs of R's diagonal, which makes Q uniform over the orthogonal matrices
    (Mezzadri, 2007): Householder QR alone leaves a bias (measured: rows averaging -0.2 instead of 0 per coordinate
    on TensorFlow, and the Performer's error growing with the number of features)."""
    if not isinstance(seed, keras.random.SeedGenerator):  # an int would give every draw the same numbers
        seed = keras.random.SeedGenerator(seed)
    blocks = []
    for _ in range(-(-count // width)):
        q, r = ops.qr(keras.random.normal((width, width), seed=seed))
        blocks.append(ops.transpose(q * ops.sign(ops.diagonal(r))[None, :]))
    lengths = ops.norm(keras.random.normal((count, width), seed=seed), axis=1)
    return ops.concatenate(blocks, axis=0)[:count] * lengths[:, None]


@keras.saving.register_keras_serializable(package="layers")
class OrthogonalRandomFeatures(keras.initializers.Initializer):
    """Initializer of `orthogonal_random_features` for a `(count, width)` weight."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        return ops.cast(orthogonal_random_features(shape[0], shape[1], self.seed), dtype or "float32")

    def get_config(self):
        return {"seed": self.seed}


def _positive_features(x, features, mask=None, over_steps=False):
    """FAVOR+'s positive random features of `x` `(batch, T, H, d)` (float32), Lemma 1:
    ``phi(x) = exp(w_i . x - |x|^2 / 2) / sqrt(m)`` for the `m` rows ``w_i`` of `features`, with ``x`` scaled by
    ``d^(-1/4)`` so that ``E[phi(q) . phi(k)] = exp(q . k / sqrt(d))``. A constant subtracted inside the exponential
    keeps it finite and cancels in the attention's ratio: per query (`over_steps=False`), or one for all keys of a
    sequence and head (`over_steps=True`; padded keys, `mask` False, get features 0).

    Unlike the reference implementation, no epsilon is added to the features: a constant that the stabilizer does
    not scale would let later keys (through the shared stabilizer) change the outputs of a causal layer's earlier
    steps, and padding change real ones (measured: by up to 0.28 with epsilon 1e-6). A query whose features meet
    only underflowed keys gets context 0 (`divide_no_nan`), which needs projections of extreme norm."""
    x = x * (x.shape[-1] ** -0.25)
    projected = ops.einsum("btnd,md->btnm", x, features)
    squared_norm = ops.sum(ops.square(x), axis=-1, keepdims=True) / 2.0
    if over_steps:
        visible = projected if mask is None else ops.where(mask[:, :, None, None], projected, core.large_negative("float32"))
        stabilizer = ops.max(visible, axis=(1, 3), keepdims=True)
    else:
        stabilizer = ops.max(projected, axis=-1, keepdims=True)
    phi = ops.exp(projected - squared_norm - ops.stop_gradient(stabilizer)) / math.sqrt(features.shape[0])
    return _zero_padded(phi, mask)


@keras.saving.register_keras_serializable(package="layers")
class PerformerAttention(_LongSequenceAttention):
    """Performer attention, FAVOR+ (Choromanski et al., 2021): softmax attention approximated through positive
    orthogonal random features ``phi``, ``context_i = phi(q_i)^T sum_j phi(k_j) v_j^T / phi(q_i)^T sum_j phi(k_j)``,
    computed right to left in O(n m d) time and O(n m) memory; causal by prefix sums over ``j <= i``.

    The `num_features` x `key_dim` feature matrix is a non-trainable weight drawn at build (`seed`), so a saved model
    computes the same; with `redraw_features=True` every training call draws a fresh one (the paper's redrawing,
    Section 4.3), inference keeps the stored one. The features and their sums are computed in float32. The weights
    are never formed while training, so attention dropout does not apply (`dropout` must be 0).

    Paper: Choromanski et al., "Rethinking Attention with Performers", ICLR 2021.

    Args:
        num_heads, key_dim, value_dim, use_bias, output_dim, kernel_initializer, bias_initializer: as
            `MultiHeadAttention`.
        num_features: `m`, random features per head (the paper's default is ``d log d``; 256 covers heads of 64).
        redraw_features: draw new features at every training call.
        seed: seed of the features.

    Call arguments: as `MultiHeadAttention`, without `attention_mask` and `cache`.

    Returns:
        `(batch, T_q, output_dim)`, and with `return_attention_scores=True` the approximate weights
        `(batch, H, T_q, T_k)` the context used (formed for the request only: O(n^2)).

    Example:

    >>> attention = PerformerAttention(num_heads=4, key_dim=8, num_features=64, seed=1)
    >>> x = keras.random.normal((2, 300, 32))
    >>> tuple(attention(x, x, use_causal_mask=True).shape)
    (2, 300, 32)
    """

    cost = "O(n m)"
    dropout_refusal = "it never forms the attention weights, so it has no attention dropout"

    def __init__(self, num_heads, key_dim, num_features=256, redraw_features=False, seed=None, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        check_positive_int(num_features=num_features)
        if self.dropout:
            raise ValueError(f"PerformerAttention's `dropout` must be 0 ({self.dropout_refusal}); received dropout={self.dropout}.")
        self.num_features = num_features
        self.redraw_features = bool(redraw_features)
        self.seed = seed
        if self.redraw_features:
            self._redraw_seed = keras.random.SeedGenerator(seed)

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        self.random_features = self.add_weight(
            name="random_features",
            shape=(self.num_features, self.key_dim),
            initializer=OrthogonalRandomFeatures(self.seed),
            trainable=False,
        )

    def attend_heads(self, query, key, value, value_mask, use_causal_mask, training, return_attention_scores):
        dtype = query.dtype
        if self.redraw_features and training:
            features = orthogonal_random_features(self.num_features, self.key_dim, self._redraw_seed)
        else:
            features = ops.convert_to_tensor(self.random_features)
        features = ops.cast(features, "float32")
        query_features = _positive_features(ops.cast(query, "float32"), features)
        key_features = _positive_features(ops.cast(key, "float32"), features, value_mask, over_steps=True)
        value = ops.cast(value, "float32")
        if use_causal_mask:
            if None not in (query.shape[1], key.shape[1]) and query.shape[1] != key.shape[1]:
                raise ValueError(f"Causal PerformerAttention needs as many queries as keys; received {query.shape[1]} and {key.shape[1]}.")
            sums = ops.cumsum(ops.einsum("bsnm,bsnd->bsnmd", key_features, value), axis=1)
            numerator = ops.einsum("btnm,btnmd->btnd", query_features, sums)
            denominator = ops.sum(query_features * ops.cumsum(key_features, axis=1), axis=-1)
        else:
            numerator = ops.einsum("btnm,bnmd->btnd", query_features, ops.einsum("bsnm,bsnd->bnmd", key_features, value))
            denominator = ops.einsum("btnm,bnm->btn", query_features, ops.sum(key_features, axis=1))
        context = ops.cast(ops.divide_no_nan(numerator, denominator[..., None]), dtype)
        if not return_attention_scores:
            return context, None
        kernel = ops.einsum("btnm,bsnm->bnts", query_features, key_features)
        if use_causal_mask:
            kernel = ops.where(core.causal_mask(ops.shape(query)[1], ops.shape(key)[1])[:, None], kernel, 0.0)
        weights = ops.divide_no_nan(kernel, ops.sum(kernel, axis=-1, keepdims=True))
        return context, ops.cast(weights, dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "num_features": self.num_features,
            "redraw_features": self.redraw_features,
            "seed": self.seed,
        }
