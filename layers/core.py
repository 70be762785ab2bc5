"""The attention computation every layer of the package shares.

Masks are boolean and ``True`` where attention is allowed. Every layer turns its
masks (implicit Keras masks, ``query_mask``, ``value_mask``, ``attention_mask``,
``use_causal_mask``) into one ``(batch, T_q, T_k)`` mask with
:func:`combine_masks`, then attends with :func:`attend` (explicit scores) or
:func:`scaled_dot_product` (fused kernel where possible). Both paths agree:

* masked key columns get weight exactly 0;
* a query row with nothing to attend to (a padded query, or a row whose keys are
  all masked) gets all-zero weights and a zero context vector, never NaN;
* the softmax runs in float32 and masked logits are replaced (``where``), not
  offset by a constant, so float16/bfloat16 cannot overflow.
"""

from keras import ops


def large_negative(dtype):
    """A logit that softmax turns into 0 yet is finite in ``dtype``.

    float16 tops out at 65504, so ``-1e9`` would become ``-inf`` there; use 70% of
    the dtype's range instead, as `keras.layers.Softmax` does.
    """
    if str(dtype) == "float16":
        return -0.7 * 65504.0
    return -1e9


def causal_mask(query_length, key_length):
    """Lower-triangular ``(1, T_q, T_k)`` mask: query ``i`` sees keys ``<= i``.

    When ``T_q < T_k`` (new queries after a cache of earlier keys) the queries are
    aligned with the *last* ``T_q`` keys, so query ``i`` sees keys
    ``<= i + T_k - T_q``.
    """
    rows = ops.expand_dims(ops.arange(query_length), 1) + (key_length - query_length)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.expand_dims(ops.greater_equal(rows, cols), 0)


def check_sequences(query, value, key=None):
    """Raises `ValueError` unless `query`, `value` and `key` are `(batch, T, features)` sequences of one
    batch size, with as many keys as values. Dimensions unknown while tracing are not compared."""
    for name, x in (("query", query), ("value", value), ("key", key)):
        if x is not None and len(x.shape) != 3:
            raise ValueError(f"`{name}` must have shape (batch, length, features); received shape {tuple(x.shape)}.")
    key = value if key is None else key
    shapes = f"received query {tuple(query.shape)}, value {tuple(value.shape)} and key {tuple(key.shape)}"
    if len({query.shape[0], value.shape[0], key.shape[0]} - {None}) > 1:
        raise ValueError(f"`query`, `value` and `key` must share their batch size; {shapes}.")
    if None not in (key.shape[1], value.shape[1]) and key.shape[1] != value.shape[1]:
        raise ValueError(f"`key` and `value` must have the same length (one value per key); {shapes}.")


def _check_mask_shape(name, mask, expected, broadcast=False):
    """Raises `ValueError` unless `mask` has `expected` shape (None: any size; with `broadcast`, 1 fits any)."""
    fits = len(mask.shape) == len(expected) and all(
        None in (size, wanted) or size == wanted or (broadcast and size == 1) for size, wanted in zip(mask.shape, expected)
    )
    if not fits:
        raise ValueError(f"`{name}` must have shape {tuple(expected)}; received shape {tuple(mask.shape)}.")


def check_padding_masks(query, key, *, query_mask=None, value_mask=None):
    """Raises `ValueError` unless `query_mask` is `(batch, T_q)` and `value_mask` `(batch, T_k)` for the
    `(batch, T, ...)` tensors `query` and `key` (sizes unknown while tracing are not compared)."""
    if query_mask is not None:
        _check_mask_shape("query_mask", query_mask, (query.shape[0], query.shape[1]))
    if value_mask is not None:
        _check_mask_shape("value_mask", value_mask, (key.shape[0], key.shape[1]))


def combine_masks(
    query,
    key,
    *,
    query_mask=None,
    value_mask=None,
    attention_mask=None,
    use_causal_mask=False,
):
    """All masks of one call as a single boolean ``(batch, T_q, T_k)`` mask.

    Args:
        query: `(batch, T_q, ...)` tensor (only its shape is used).
        key: `(batch, T_k, ...)` tensor (only its shape is used).
        query_mask: `(batch, T_q)`, False at padded queries; their rows become 0.
        value_mask: `(batch, T_k)`, False at padded keys/values.
        attention_mask: `(batch, T_q, T_k)` or broadcastable (sizes of 1), False
            where a query may not attend to a key.
        use_causal_mask: forbid attention to later positions.

    Returns:
        A boolean tensor broadcastable to `(batch, T_q, T_k)`, or `None` when no
        mask applies. A mask of another shape gives `ValueError`.
    """
    check_padding_masks(query, key, query_mask=query_mask, value_mask=value_mask)
    batch, query_length, key_length = query.shape[0], query.shape[1], key.shape[1]
    mask = None

    def merge(new):
        new = ops.cast(new, "bool")
        return new if mask is None else ops.logical_and(mask, new)

    if query_mask is not None:
        mask = merge(ops.expand_dims(query_mask, -1))
    if value_mask is not None:
        mask = merge(ops.expand_dims(value_mask, -2))
    if attention_mask is not None:
        _check_mask_shape("attention_mask", attention_mask, (batch, query_length, key_length), broadcast=True)
        mask = merge(attention_mask)
    if use_causal_mask:
        mask = merge(causal_mask(ops.shape(query)[1], ops.shape(key)[1]))
    return mask


def _rows_with_keys(mask):
    """``(..., T_q, 1)``: True where a query row may attend to at least one key."""
    return ops.any(mask, axis=-1, keepdims=True)


def masked_softmax(scores, mask=None):
    """Softmax over the last axis where ``mask`` is True; empty rows are all 0.

    Computed in float32 and cast back to the dtype of ``scores``.
    """
    dtype = scores.dtype
    scores = ops.cast(scores, "float32")
    if mask is None:
        return ops.cast(ops.softmax(scores, axis=-1), dtype)
    scores = ops.where(mask, scores, large_negative("float32"))
    weights = ops.softmax(scores, axis=-1)
    weights = ops.where(ops.logical_and(mask, _rows_with_keys(mask)), weights, 0.0)
    return ops.cast(weights, dtype)


def attend(scores, value, mask=None, *, dropout=None, training=None):
    """Weights from explicit scores, then the weighted sum of the values.

    Args:
        scores: `(batch, heads, T_q, T_k)` unnormalized scores.
        value: `(batch, T_k, heads, d_v)`.
        mask: boolean `(batch, T_q, T_k)` (shared by all heads) or `None`.
        dropout: optional `keras.layers.Dropout` applied to the weights.

    Returns:
        `(context, weights)`: `(batch, T_q, heads, d_v)` and the weights
        `(batch, heads, T_q, T_k)` before dropout.
    """
    if mask is not None:
        mask = ops.expand_dims(mask, 1)
    weights = masked_softmax(scores, mask)
    dropped = weights if dropout is None else dropout(weights, training=training)
    context = ops.einsum("bnts,bsnh->btnh", dropped, value)
    return context, weights


def dropout_active(dropout, training):
    """Whether `dropout` (a `keras.layers.Dropout` on the attention weights, or None) drops anything in this call:
    the weights must then be formed explicitly."""
    return dropout is not None and dropout.rate > 0 and bool(training)


def scaled_dot_product(
    query,
    key,
    value,
    mask=None,
    *,
    scale,
    dropout=None,
    training=None,
    return_attention_scores=False,
):
    """``softmax(scale * Q K^T) V`` per head, fused where nothing else is needed.

    The fused kernel (`keras.ops.dot_product_attention`) runs when the weights are
    not requested, dropout is inactive and `d_v == d_k`; otherwise the scores are
    computed explicitly and passed to :func:`attend`. Both give the same numbers.

    Args:
        query: `(batch, T_q, heads, d_k)`.
        key: `(batch, T_k, heads, d_k)`.
        value: `(batch, T_k, heads, d_v)`.
        mask: boolean `(batch, T_q, T_k)` or `None`.
        scale: multiplier of the dot products, e.g. `1 / sqrt(d_k)`.

    Returns:
        `(context, weights)`; `weights` is `None` on the fused path.
    """
    # JAX's fused kernel needs values as wide as keys.
    fusable = query.shape[-1] == value.shape[-1]
    if return_attention_scores or dropout_active(dropout, training) or not fusable:
        scores = ops.einsum("btnh,bsnh->bnts", query, key) * ops.cast(scale, query.dtype)
        return attend(scores, value, mask, dropout=dropout, training=training)
    if mask is None:
        return ops.dot_product_attention(query, key, value, scale=scale), None
    mask = ops.cast(mask, "bool")
    heads_mask = ops.expand_dims(mask, 1)
    context = ops.dot_product_attention(query, key, value, mask=heads_mask, scale=scale)
    # (batch, T_q, 1, 1): zero the rows that had nothing to attend to, as `attend` does.
    valid_rows = ops.expand_dims(_rows_with_keys(mask), -1)
    return ops.where(valid_rows, context, ops.zeros_like(context)), None
