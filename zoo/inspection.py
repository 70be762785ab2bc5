"""Where a model looks: the attention weights of every attention layer of a model, for given inputs, and the class
activation maps of a classifier whose logits are a linear layer on global average pooling (Zhou et al. 2016).

>>> model = zoo.build("transformer_classifier_tiny")
>>> logits, maps = zoo.attention_maps(model, token_ids)
>>> maps["encoder_1"]["self"].shape          # (batch, heads, T, T)
>>> zoo.attention_rollout([maps["encoder_0"]["self"], maps["encoder_1"]["self"]])  # (batch, T, T)
"""

import inspect
import weakref

import keras
import numpy as np
from keras import ops, tree

from layers.multi_head import self_or_cross_attention

# The kinds of attention map, each with its layout (documented in `attention_maps`).
KINDS = ("self", "cross", "alignment", "pooling", "channel", "spatial", "projected", "window", "class_activation")

# Global average pooling, whose features a linear layer behind it maps to class activation maps; and the layers that
# pass them on unchanged in inference (between the pooling and the logits).
GLOBAL_AVERAGE_POOLINGS = (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D, keras.layers.GlobalAveragePooling3D)
INFERENCE_IDENTITIES = (keras.layers.Dropout,)

# model -> what `_with_attention_weights` built on it, while the model lives: a logger probing every
# epoch builds it once (the symbolic calls cost seconds on a deep model).
_EXTRACTORS = weakref.WeakKeyDictionary()


def returns_attention(layer):
    """Whether `layer.call` takes `return_attention_scores` (every attention layer of `layers`,
    the Transformer blocks, the RNN decoders, SE/ECA/CBAM, `AttentionPooling`, Keras' own)."""
    return "return_attention_scores" in inspect.signature(layer.call).parameters


def attention_kinds(layer, *args, **kwargs):
    """The kinds (of `KINDS`) of the weights `layer(*args, **kwargs, return_attention_scores=True)`
    adds to the outputs, in order; `None` for a layer that does not say.

    The layers of `layers` declare them: a tuple `attention_kinds`, or a method
    `attention_kinds(*args, **kwargs)` taking the call's arguments where the
    kind depends on them (`MultiHeadAttention`: self or cross). Keras' own
    attention layers declare nothing and are named here: `MultiHeadAttention`
    and `GroupQueryAttention` give "self" when called with the query as value
    (and key), else "cross"; `Attention` and `AdditiveAttention` give "alignment".
    """
    declared = getattr(layer, "attention_kinds", None)
    if callable(declared):
        return tuple(declared(*args, **kwargs))
    if declared is not None:
        return tuple(declared)
    if isinstance(layer, (keras.layers.MultiHeadAttention, keras.layers.GroupQueryAttention)):
        return self_or_cross_attention(*args, **kwargs)
    if isinstance(layer, keras.layers.Attention):  # Keras' AdditiveAttention too
        return ("alignment",)
    return None


class _AttentionWeights(keras.layers.Layer):
    """Calls `layer` with `return_attention_scores=True` and returns only what that adds (the weights).

    A layer of its own, first called here: a functional model checks each node
    against its operation's first call, so the wrapped layer, whose own first
    call returned fewer outputs, cannot be called for its weights in the graph.
    """

    def __init__(self, layer, num_outputs):
        super().__init__(name=f"{layer.name}_attention_weights", dtype=layer.dtype_policy)
        self.layer = layer
        self.num_outputs = num_outputs
        self.supports_masking = True  # the inputs' masks reach `layer`, as in the model
        self.built = True

    def call(self, *args, **kwargs):
        return tuple(tree.flatten(self.layer(*args, **kwargs, return_attention_scores=True))[self.num_outputs :])

    def compute_mask(self, *args, **kwargs):
        return None


class _ClassActivation(keras.layers.Layer):
    """Class activation maps (Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016) of
    the linear layer `dense` on globally average-pooled features: for features `f_k(x)` at each position x,
    ``M_c(x) = sum_k w_kc f_k(x)`` with `dense`'s kernel `w`, `(batch, *positions, classes)`. The mean of `M_c` over
    the pooled positions plus the bias is the logit of class c. Computed as `dense` itself on each position's
    features, less its bias: a quantized or LoRA layer gives its own numbers."""

    def __init__(self, dense):
        super().__init__(name=f"{dense.name}_class_activation", dtype=dense.compute_dtype)
        self.dense = dense
        self.supports_masking = True  # the features' mask (a series' padding) is the pooling's
        self.built = True

    def call(self, features):
        activation = self.dense(features)
        return activation - self.dense.bias if self.dense.use_bias else activation

    def compute_mask(self, *args, **kwargs):
        return None


class _PooledHeads:
    """Follows the calls of a model's layers from each global average pooling (channels last), through layers that
    pass it on unchanged in inference, to a linear `Dense` layer on it (logits), whose class activation maps it
    makes."""

    def __init__(self):
        self.pooled = {}  # id of a pooled tensor -> (the tensor, the pooling layer's name, the features it pooled)

    def follow(self, layer, args, outputs):
        """Notes the call `outputs = layer(*args)`; for a `Dense` layer on pooled features, returns `(the pooling
        layer's name, class activation maps)`."""
        if isinstance(layer, GLOBAL_AVERAGE_POOLINGS) and layer.data_format == "channels_last":
            self.pooled[id(outputs)] = (outputs, layer.name, args[0])
            return None
        source = self.pooled.get(id(args[0])) if args else None
        if source is None or source[0] is not args[0]:
            return None
        if isinstance(layer, INFERENCE_IDENTITIES):
            self.pooled[id(outputs)] = (outputs, *source[1:])
        elif isinstance(layer, keras.layers.Dense) and layer.activation is keras.activations.linear:
            return source[1], _ClassActivation(layer)(source[2])
        return None


def _is_functional(layer):
    """Whether `layer` is a functional model (`keras.Model(inputs, outputs)`), whose layers can be seen."""
    return isinstance(layer, keras.Model) and isinstance(layer, keras.Function)


def _with_attention_weights(model):
    """`(extractor, recorded)`: a functional model on `model`'s layers returning `[outputs, weights]`,
    and `[(layer name, kinds)]` of the weights, in the order the layers run (`extractor` is a model
    returning the outputs alone when no layer has weights). A `Dense` layer on global average pooling (through
    dropout, say) whose output is the model's adds its class activation maps, under the pooling layer's name (a
    hidden layer on the pooled features maps them to no class; a nested model's count where its output is the
    model's)."""
    found = []  # (layer name, kinds, weights, None or the tensors of which one must be the model's output)
    heads = _PooledHeads()

    def call_function(layer, *args, **kwargs):
        if _is_functional(layer):
            nested, nested_recorded = _with_attention_weights(layer)
            if not nested_recorded:
                return layer(*args, **kwargs)
            outputs, nested_weights = nested(*args, **kwargs)
            for (name, kinds), extra in zip(nested_recorded, nested_weights):
                found.append((name, kinds, extra, tree.flatten(outputs) if "class_activation" in kinds else None))
            return outputs
        outputs = layer(*args, **kwargs)
        head = heads.follow(layer, args, outputs)
        if head is not None:
            found.append((head[0], ("class_activation",), [head[1]], [outputs]))
        if returns_attention(layer) and not kwargs.get("return_attention_scores"):
            extra = list(_AttentionWeights(layer, len(tree.flatten(outputs)))(*args, **kwargs))
            if extra:
                kinds = attention_kinds(layer, *args, **kwargs)
                if kinds is None:  # a layer that does not say (another library's)
                    kinds = ("unknown",) if len(extra) == 1 else tuple(f"unknown_{i}" for i in range(len(extra)))
                elif len(kinds) != len(extra) or len(set(kinds)) != len(kinds) or not set(kinds) <= set(KINDS):
                    raise ValueError(
                        f"Layer {layer.name!r} ({type(layer).__name__}) declares the attention kinds {kinds} for "
                        f"the {len(extra)} weights it returns: it must name each once, from {KINDS}."
                    )
                found.append((layer.name, kinds, extra, None))
        return outputs

    # `clone_function` keeps the model's own layers (and weights); `call_function` sees every call.
    clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call_function)
    model_outputs = tree.flatten(clone.outputs)
    found = [
        entry for entry in found
        if entry[3] is None or any(tensor is output for tensor in entry[3] for output in model_outputs)
    ]
    recorded = [(name, kinds) for name, kinds, _, _ in found]
    weights = [extra for _, _, extra, _ in found]
    if not recorded:
        return clone, []
    return keras.Model(clone.input, [clone.output, weights], name=f"{model.name}_attention"), recorded


def attention_maps(model, inputs):
    """Runs a functional `model` on `inputs` in inference mode and collects attention weights, typed by kind.

    The model's layers are called as the model calls them, in a functional
    model built on them (`keras.models.clone_model` with the same layers, so the
    same weights), and each layer that can return attention weights is called
    once more with `return_attention_scores=True`: what that call returns beyond
    the first are its weights. Nested functional models (an encoder, a
    classifier behind a preprocessing layer) are searched too; a nested
    `Sequential` or subclassed model runs as it is, its attention unseen.

    Each layer's weights are keyed by kind, which the layer declares (see
    `attention_kinds`); the kinds and their layouts:

    * `"self"`: `(batch, heads, T, T)`, a sequence attending over itself: a
      Transformer encoder block, a decoder block's causal self-attention,
      `MultiHeadAttention` called with the query as value (and key).
    * `"cross"`: `(batch, heads, T_q, T_k)`, queries from one sequence over
      the keys of another: a decoder block over the encoder output,
      `MultiHeadAttention` given another value.
    * `"alignment"`: `(batch, T_q, T_k)`, single-head attention without a
      heads axis: `BahdanauDecoder` and `LuongDecoder` (for each target step,
      its weights over the source), `AdditiveAttention`, `DotProductAttention`,
      Keras' `Attention`.
    * `"pooling"`: `(batch, T)`, `AttentionPooling`'s weights over the steps.
    * `"channel"`: `(batch, C)`, SE, ECA and CBAM's channel weights.
    * `"spatial"`: `(batch, H, W)`, CBAM's spatial map.
    * `"projected"`: `(batch, heads, T_q, k)`, `LinformerAttention`'s weights
      over its `k` keys projected along the sequence (no position of their own).
    * `"window"`: `(batch, heads, T, W)`, `SlidingWindowAttention`'s compact
      layout; `layers.efficient.window_weights_as_matrix` gives `(batch, heads, T, T)`.
    * `"class_activation"`: `(batch, *positions, classes)` under a global average pooling layer's name
      (`(batch, T, classes)` over a series' steps, `(batch, H, W, classes)` over an image), when a `Dense`
      layer maps its output (through dropout) to logits: class activation maps (Zhou et al. 2016),
      ``M_c(x) = sum_k w_kc f_k(x)`` for the pooled features f and the kernel w; a class's map averaged over
      the pooled positions (a series' real steps) plus its bias is its logit. Not attention, but the same
      question: which part of the input drove the class (FCN and ResNet classifiers, which have no attention
      over positions).
    * `"unknown"` (or `"unknown_0"`, `"unknown_1"`, ... in the order returned):
      a layer of another library that takes `return_attention_scores` but
      declares nothing.

    Returns:
        `(outputs, maps)`: the model's outputs (those of `model(inputs)`) and
        `{layer name: {kind: weights}}`, layers in the order they run, the
        weights as NumPy arrays; e.g. a Transformer decoder block gives
        `{"self": ..., "cross": ...}`, a CBAM block `{"channel": ..., "spatial": ...}`.
    """
    if not _is_functional(model):
        raise ValueError(
            f"attention_maps takes a functional model, keras.Model(inputs, outputs); received "
            f"{type(model).__name__} {model.name!r}, whose layers' calls cannot be seen."
        )
    if model not in _EXTRACTORS:
        _EXTRACTORS[model] = _with_attention_weights(model)
    extractor, recorded = _EXTRACTORS[model]
    if not recorded:
        return tree.map_structure(ops.convert_to_numpy, extractor(inputs, training=False)), {}
    outputs, weights = extractor(inputs, training=False)
    maps = {
        name: {kind: ops.convert_to_numpy(w) for kind, w in zip(kinds, layer_weights)}
        for (name, kinds), layer_weights in zip(recorded, weights)
    }
    return tree.map_structure(ops.convert_to_numpy, outputs), maps


def attention_rollout(self_attention):
    """Attention rollout (Abnar and Zuidema, 2020): how much each output token draws on each input token.

    Each layer's heads are averaged and the residual connection is counted as
    an identity path, ``A_l = (mean_heads(W_l) + I) / 2``; rows are
    renormalized, and the layers compose: ``R = A_L ... A_2 A_1``. For a ViT,
    ``R[:, 0, 1:]`` is how much the class token's output draws on each patch.

    Paper: Abnar and Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020.

    Args:
        self_attention: the self-attention weights of each layer, first layer
            first, each `(batch, heads, T, T)` (the `"self"` maps of
            `attention_maps`).

    Returns:
        `(batch, T, T)` array whose rows sum to 1.
    """
    rollout = None
    for weights in self_attention:
        weights = np.asarray(weights, "float64")
        if weights.ndim != 4 or weights.shape[-1] != weights.shape[-2]:
            raise ValueError(f"Each layer's weights must be (batch, heads, T, T); received shape {weights.shape}.")
        layer = (weights.mean(axis=1) + np.eye(weights.shape[-1])) / 2.0
        layer /= layer.sum(axis=-1, keepdims=True)
        rollout = layer if rollout is None else layer @ rollout
    if rollout is None:
        raise ValueError("`self_attention` holds no layer.")
    return rollout
