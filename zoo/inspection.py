"""Where a model looks: the attention weights of every attention layer of a model, for given inputs.

>>> model = zoo.build("transformer_classifier_tiny")
>>> logits, maps = zoo.attention_maps(model, token_ids)
>>> maps["encoder_1"].shape                 # (batch, heads, T, T)
>>> zoo.attention_rollout([maps["encoder_0"], maps["encoder_1"]])  # (batch, T, T)
"""

import inspect

import numpy as np
from keras import ops, tree


def returns_attention(layer):
    """Whether `layer.call` takes `return_attention_scores` (every attention layer of `layers`,
    the Transformer blocks, the RNN decoders, SE/ECA/CBAM, `AttentionPooling`, Keras' own)."""
    return "return_attention_scores" in inspect.signature(layer.call).parameters


def attention_maps(model, inputs):
    """Runs a functional `model` on `inputs` in inference mode and collects attention weights.

    Each layer that can return attention weights is called as the model calls
    it, and once more with `return_attention_scores=True`; what the second call
    returns beyond the first are its weights. Nested functional models (an
    encoder, a classifier behind a preprocessing layer) are searched too.

    Returns:
        `(outputs, maps)`: the model's outputs and `{layer name: weights}`, the
        weights as NumPy arrays: one array per layer, or a tuple where a layer
        returns several (CBAM: channel and spatial maps; a Transformer decoder
        block: self- and cross-attention).
    """
    maps = {}

    def run(functional, functional_inputs):
        # Keras' own `Functional.call` walks the graph the same way (`_run_through_graph`).
        flat_inputs = tree.flatten(functional._standardize_inputs(functional_inputs))
        outputs = functional._run_through_graph(flat_inputs, operation_fn=instrument)
        return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs

    def instrument(operation):
        if hasattr(operation, "_run_through_graph"):  # a nested functional model
            return lambda nested_inputs, **kwargs: run(operation, nested_inputs)
        if not returns_attention(operation):
            return operation

        def call_and_record(*args, **kwargs):
            outputs = operation(*args, **kwargs)
            with_weights = operation(*args, **{**kwargs, "return_attention_scores": True})
            weights = [ops.convert_to_numpy(w) for w in tree.flatten(with_weights)[len(tree.flatten(outputs)) :]]
            maps[operation.name] = weights[0] if len(weights) == 1 else tuple(weights)
            return outputs

        return call_and_record

    outputs = run(model, inputs)
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
            first, each `(batch, heads, T, T)` (as `attention_maps` returns
            them for the encoder blocks).

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
