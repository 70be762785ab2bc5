"""Transformer encoder and decoder blocks built on `layers.MultiHeadAttention` (or, in the encoder, one of the
efficient attention layers of `layers.efficient`)."""

import inspect

import keras

from layers.efficient import LinformerAttention, LinformerProjection, PerformerAttention, SlidingWindowAttention
from layers.multi_head import MultiHeadAttention
from layers.symbolic import TracedOutputSpec
from layers.validation import check_choice, check_number, check_positive_int, check_rate

# The encoder's `attention` kinds: full attention O(n^2), or an efficient layer, O(n k), O(n w), O(n m).
ATTENTION_LAYERS = {
    "full": MultiHeadAttention,
    "linformer": LinformerAttention,
    "window": SlidingWindowAttention,
    "performer": PerformerAttention,
}


def attention_options(kind):
    """`(required, optional)`: the names of the options of attention `kind` (`ATTENTION_LAYERS`), those its layer
    takes beyond what a block sets itself (heads, widths, dropout, initializer)."""
    parameters = list(inspect.signature(ATTENTION_LAYERS[kind].__init__).parameters.values())
    own = set(inspect.signature(MultiHeadAttention.__init__).parameters)
    options = [parameter for parameter in parameters if parameter.name not in own]
    return (
        tuple(option.name for option in options if option.default is inspect.Parameter.empty),
        tuple(option.name for option in options if option.default is not inspect.Parameter.empty),
    )


def encoder_stack(
    x, num_layers, num_heads, intermediate_dim, *, sequence_length, attention="full", attention_options=None, **block_options
):
    """`num_layers` `TransformerEncoderBlock`s ("encoder_0", ...) applied to the functional tensor `x`.

    A model's builder knows its longest sequence (its position table, its patches): Linformer's `max_length` is
    `sequence_length` unless given. With Linformer's `sharing="layerwise"` one `LinformerProjection`
    ("linformer_projection") gives every block the same ``E``. `block_options`: the blocks' other arguments.
    """
    options = dict(attention_options or {})
    shared = {}
    if attention == "linformer":
        options.setdefault("max_length", sequence_length)
        if options.get("sharing") == "layerwise":
            sizes = {name: options[name] for name in ("max_length", "projected_length") if name in options}
            shared["shared_projection"] = LinformerProjection(**sizes, name="linformer_projection")(x)
    for index in range(num_layers):
        block = TransformerEncoderBlock(
            num_heads, intermediate_dim, attention=attention, attention_options=options, name=f"encoder_{index}", **block_options
        )
        x = block(x, **shared)
    return x


def attention_description(attention, options):
    """`{"kind", "cost", "options"}` of attention `attention`, for `zoo.describe`."""
    return {"kind": attention, "cost": ATTENTION_LAYERS[attention].cost, "options": dict(options or {})}


def check_attention(attention, options):
    """Raises `ValueError` unless `attention` is a kind of `ATTENTION_LAYERS` and `options` (a dict) holds its
    required options and no other: the message names what is missing or unknown and what the kind takes."""
    check_choice(tuple(ATTENTION_LAYERS), attention=attention)
    if not isinstance(options, dict):
        raise ValueError(f"`attention_options` must be a dict of options of attention={attention!r}; received {options!r}.")
    required, optional = attention_options(attention)
    takes = f"attention={attention!r} takes {list(required + optional) or 'no options'}" + (f", of which {list(required)} are required" if required else "")
    unknown = sorted(set(options) - set(required + optional))
    missing = [name for name in required if name not in options]
    if unknown or missing:
        problem = f"unknown options {unknown}" if unknown else f"missing options {missing}"
        raise ValueError(f"`attention_options` has {problem}: {takes}; received attention_options={options}.")


class _TransformerBlock(TracedOutputSpec, keras.layers.Layer):
    """What the encoder and decoder blocks share: arguments, sublayer factories,
    the residual connection and the feed-forward net."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        dropout=0.0,
        attention_dropout=0.0,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads=num_heads, intermediate_dim=intermediate_dim)
        check_positive_int(optional=True, key_dim=key_dim)
        check_rate(dropout=dropout, attention_dropout=attention_dropout)
        check_number("(0, inf)", layer_norm_epsilon=layer_norm_epsilon)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.key_dim = key_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = keras.activations.get(activation)
        self.norm_first = norm_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def _common(self):
        # A config, not the instance: each sublayer builds its own initializer.
        return {"dtype": self.dtype_policy, "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}

    def _attention(self, name, query_shape, value_shape, kind="full", options=None):
        model_dim = query_shape[-1]
        key_dim = self.key_dim
        if key_dim is None:
            # Direct users' message; zoo builders check first, in their names (`check_heads_divide`).
            if model_dim % self.num_heads:
                raise ValueError(
                    f"The input width {model_dim} is not divisible by num_heads={self.num_heads}; "
                    "choose num_heads dividing it or pass `key_dim`."
                )
            key_dim = model_dim // self.num_heads
        attention = ATTENTION_LAYERS[kind](
            self.num_heads, key_dim, dropout=self.attention_dropout, name=name, **(options or {}), **self._common()
        )
        attention.build(query_shape, value_shape)
        return attention

    def _norm(self, name, input_shape):
        norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name=name, dtype=self.dtype_policy)
        norm.build(input_shape)
        return norm

    def _dropout(self):
        return keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _build_feedforward(self, input_shape):
        self.feedforward_inner = keras.layers.Dense(
            self.intermediate_dim, activation=self.activation, name="feedforward_inner", **self._common()
        )
        self.feedforward_inner.build(input_shape)
        self.feedforward_outer = keras.layers.Dense(input_shape[-1], name="feedforward_outer", **self._common())
        self.feedforward_outer.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.feedforward_dropout = self._dropout()

    def _sublayer(self, x, norm, dropout, function, training):
        """``x + Dropout(f(LN(x)))`` in pre-LN, ``LN(x + Dropout(f(x)))`` in post-LN.

        `function` returns the update, or a tuple whose first item is the update
        (extra items, e.g. attention scores, are passed through).
        """
        result = function(norm(x) if self.norm_first else x)
        update, extras = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
        y = x + dropout(update, training=training)
        return (y if self.norm_first else norm(y)), extras

    def _feedforward(self, x, training):
        x, _ = self._sublayer(
            x,
            self.feedforward_norm,
            self.feedforward_dropout,
            lambda y: self.feedforward_outer(self.feedforward_inner(y)),
            training,
        )
        return x

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation": keras.activations.serialize(self.activation),
            "norm_first": self.norm_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="layers")
class TransformerEncoderBlock(_TransformerBlock):
    """Transformer encoder layer: self-attention and a position-wise feed-forward net.

    Post-LN (Vaswani et al., 2017)::

        y = LayerNorm(x + Dropout(MultiHead(x, x, x)))
        z = LayerNorm(y + Dropout(W_2 act(W_1 y + b_1) + b_2))

    Pre-LN (`norm_first=True`, Xiong et al., 2020, more stable without warmup)::

        y = x + Dropout(MultiHead(LN(x), LN(x), LN(x)))
        z = y + Dropout(FFN(LN(y)))

    Padding (implicit Keras mask or `mask`) hides padded keys from every query;
    padded positions carry no information to real ones. Weights are in the order
    of `keras_hub.layers.TransformerEncoder`.

    Papers: Vaswani et al., "Attention Is All You Need", NeurIPS 2017;
    Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020.

    Args:
        num_heads: attention heads.
        intermediate_dim: width of the feed-forward hidden layer (`d_ff`).
        key_dim: width of each head; defaults to `d_model / num_heads`.
        dropout: rate on both sublayer outputs, before each residual sum (the paper's
            "residual dropout", Section 5.4).
        attention_dropout: rate on the attention weights (0, the paper's choice, keeps
            training on the fused attention kernel; `layers.MultiHeadAttention`).
        activation: feed-forward activation.
        norm_first: pre-LN when True, post-LN (the paper's) when False.
        layer_norm_epsilon: epsilon of the layer normalizations.
        kernel_initializer: initializer of all kernels.
        attention: the self-attention: "full" (`MultiHeadAttention`, O(n^2)), or an
            efficient layer of `layers.efficient` for long sequences: "linformer"
            (O(n k)), "window" (O(n w)), "performer" (O(n m)).
        attention_options: that layer's own arguments, e.g. `{"max_length": 4096,
            "projected_length": 256}` (Linformer, `max_length` required), `{"window": 128}`,
            `{"num_features": 256}`; `attention_mask` and, for Linformer, causal
            masks are not theirs to take, nor, for the Performer, `attention_dropout`.

    Call arguments:
        inputs: `(batch, T, d_model)`.
        mask: `(batch, T)` boolean padding mask; defaults to the implicit Keras mask.
        attention_mask: `(batch, T, T)` boolean, False where `i` may not attend to `j`.
        use_causal_mask: forbid attention to later positions.
        return_attention_scores: also return the weights `(batch, heads, T, T)` (Linformer:
            `(batch, heads, T, k)`; window: its compact `(batch, heads, T, W)`).
        training: Python bool; enables dropout.
        shared_projection: Linformer with `sharing="layerwise"`: the model's projection (`LinformerProjection`;
            `encoder_stack` wires it).

    Returns:
        `(batch, T, d_model)`, and the attention weights on request.

    Example:

    >>> block = TransformerEncoderBlock(num_heads=4, intermediate_dim=64)
    >>> x = keras.random.normal((2, 10, 32))
    >>> y, scores = block(x, return_attention_scores=True)
    >>> tuple(scores.shape)
    (2, 4, 10, 10)
    >>> local = TransformerEncoderBlock(4, 64, attention="window", attention_options={"window": 3})
    >>> tuple(local(x, return_attention_scores=True)[1].shape)
    (2, 4, 10, 7)
    """

    # What the weights are, for `zoo.attention_maps`: `(batch, heads, T, T)`; an efficient attention's own layout
    # (the instance's `attention_kinds`) with `attention="linformer"` or `"window"`.
    attention_kinds = ("self",)

    def __init__(self, num_heads, intermediate_dim, *, attention="full", attention_options=None, **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        attention_options = {} if attention_options is None else attention_options
        check_attention(attention, attention_options)
        dropout_refusal = ATTENTION_LAYERS[attention].dropout_refusal
        if self.attention_dropout and dropout_refusal:
            raise ValueError(
                f"attention={attention!r} takes no `attention_dropout` ({dropout_refusal}): it must be 0; "
                f"received attention_dropout={self.attention_dropout}."
            )
        self.attention_type = attention
        self.attention_options = dict(attention_options)
        kinds = ATTENTION_LAYERS[attention].attention_kinds
        if not callable(kinds):  # full and Performer attention decide per call: a block attends over its input
            self.attention_kinds = tuple(kinds)

    def build(self, input_shape):
        self.attention = self._attention(
            "self_attention", input_shape, input_shape, self.attention_type, self.attention_options
        )
        self.attention_norm = self._norm("self_attention_norm", input_shape)
        self.attention_output_dropout = self._dropout()
        self.feedforward_norm = self._norm("feedforward_norm", input_shape)
        self._build_feedforward(input_shape)

    def call(
        self,
        inputs,
        *,
        mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        shared_projection=None,
    ):
        # Only Linformer's layerwise sharing takes the model's projection; other attention takes no such argument.
        shared = {} if shared_projection is None else {"shared_projection": shared_projection}
        x, scores = self._sublayer(
            inputs,
            self.attention_norm,
            self.attention_output_dropout,
            lambda y: self.attention(
                y,
                y,
                query_mask=mask,
                value_mask=mask,
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                return_attention_scores=return_attention_scores,
                training=training,
                **shared,
            ),
            training,
        )
        x = self._feedforward(x, training)
        return (x, *scores) if return_attention_scores else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "attention": self.attention_type, "attention_options": self.attention_options}


@keras.saving.register_keras_serializable(package="layers")
class TransformerDecoderBlock(_TransformerBlock):
    """Transformer decoder layer: causal self-attention, cross-attention, feed-forward.

    Post-LN (Vaswani et al., 2017, Section 3.1), for target states ``x`` and the
    encoder output ``m`` (the memory)::

        y = LayerNorm(x + Dropout(MultiHead(x, x, x, causal)))
        z = LayerNorm(y + Dropout(MultiHead(y, m, m)))
        o = LayerNorm(z + Dropout(FFN(z)))

    Pre-LN (`norm_first=True`) normalizes each sublayer's input instead.

    Incremental decoding: pass `self_attention_cache` (the projected keys and
    values of the tokens decoded so far, `(batch, 2, t, heads, key_dim)`; start
    from `empty_cache`) and the new token(s) as `inputs`; the block returns the
    cache with the new keys appended, so step `t` costs O(t) instead of
    re-running the O(t^2) prefix. `memory_cache` (from `precompute_memory`)
    replaces `memory` so the encoder output is projected once per sentence.
    Cached and uncached decoding give the same outputs.

    Weights are in the order of `keras_hub.layers.TransformerDecoder`.

    Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Args: as `TransformerEncoderBlock`.

    Call arguments:
        inputs: target states `(batch, T, d_model)`.
        memory: encoder output `(batch, S, d_memory)`; not needed with `memory_cache`.
        inputs_mask: `(batch, T)` target padding mask; defaults to the implicit
            Keras mask of `inputs`.
        memory_mask: `(batch, S)` source padding mask; defaults to the implicit
            Keras mask of `memory`.
        use_causal_mask: forbid attention to later target positions (default True).
        self_attention_cache: `(batch, 2, t, heads, key_dim)` keys and values of
            the earlier target tokens.
        memory_cache: `(batch, 2, S, heads, key_dim)` from `precompute_memory`.
        return_attention_scores: also return the self- and cross-attention weights.
        training: Python bool; enables dropout.

    Returns:
        `(batch, T, d_model)`; with `self_attention_cache`, `(outputs, cache)`;
        with `return_attention_scores=True` the self-attention weights
        `(batch, heads, T, t + T)` and the cross-attention weights
        `(batch, heads, T, S)` come last.

    Example:

    >>> block = TransformerDecoderBlock(num_heads=4, intermediate_dim=64)
    >>> target, memory = keras.random.normal((2, 5, 32)), keras.random.normal((2, 7, 32))
    >>> y, self_scores, cross_scores = block(target, memory, return_attention_scores=True)
    >>> tuple(self_scores.shape), tuple(cross_scores.shape)
    ((2, 4, 5, 5), (2, 4, 5, 7))
    """

    # What the weights are, for `zoo.attention_maps`: `(batch, heads, T, T)`, then `(batch, heads, T, S)`.
    attention_kinds = ("self", "cross")

    def build(self, inputs_shape, memory_shape=None):
        memory_shape = memory_shape or inputs_shape
        self.self_attention = self._attention("self_attention", inputs_shape, inputs_shape)
        self.self_attention_norm = self._norm("self_attention_norm", inputs_shape)
        self.self_attention_output_dropout = self._dropout()
        self.cross_attention = self._attention("cross_attention", inputs_shape, memory_shape)
        self.cross_attention_norm = self._norm("cross_attention_norm", inputs_shape)
        self.cross_attention_output_dropout = self._dropout()
        self._build_feedforward(inputs_shape)
        self.feedforward_norm = self._norm("feedforward_norm", inputs_shape)

    def empty_cache(self, batch_size):
        """A self-attention cache holding no tokens: `(batch, 2, 0, heads, key_dim)`."""
        attention = self.self_attention
        return keras.ops.zeros((batch_size, 2, 0, attention.num_heads, attention.key_dim), dtype=self.compute_dtype)

    def precompute_memory(self, memory):
        """The cross-attention keys and values of `memory`, for `memory_cache`."""
        return self.cross_attention.project_key_value(memory)

    def call(
        self,
        inputs,
        memory=None,
        *,
        inputs_mask=None,
        memory_mask=None,
        use_causal_mask=True,
        self_attention_cache=None,
        memory_cache=None,
        return_attention_scores=False,
        training=None,
    ):
        if memory is None and memory_cache is None:
            raise ValueError("TransformerDecoderBlock needs the encoder output: pass `memory` or `memory_cache`.")
        x, self_results = self._sublayer(
            inputs,
            self.self_attention_norm,
            self.self_attention_output_dropout,
            lambda y: self.self_attention(
                y,
                y,
                query_mask=inputs_mask,
                value_mask=inputs_mask,
                use_causal_mask=use_causal_mask,
                cache=self_attention_cache,
                return_attention_scores=return_attention_scores,
                training=training,
            ),
            training,
        )
        x, cross_results = self._sublayer(
            x,
            self.cross_attention_norm,
            self.cross_attention_output_dropout,
            lambda y: self.cross_attention(
                y,
                memory if memory_cache is None else None,
                query_mask=inputs_mask,
                value_mask=memory_mask,
                cache=memory_cache,
                return_attention_scores=return_attention_scores,
                training=training,
            ),
            training,
        )
        x = self._feedforward(x, training)
        # The cross-attention "cache" is the memory itself: drop it from the results.
        cross_scores = cross_results[-1:] if return_attention_scores else ()
        results = (x, *self_results, *cross_scores)
        return results if len(results) > 1 else x

    def compute_output_shape(self, inputs_shape, memory_shape=None):
        return inputs_shape
