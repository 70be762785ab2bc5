"""Property tests: padding never leaks into real positions, causal masks never look ahead,
and float16 with masks stays near float32 and finite. Inputs come from Hypothesis-drawn seeds and shapes."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import layers

WIDTH = 8
# How many examples each property gets is the Hypothesis profile's (conftest.py): 15, or 2 on the JAX rerun.


def self_attention(layer):
    return lambda x, mask, causal: layer(x, x, query_mask=mask, value_mask=mask, use_causal_mask=causal)


def fixed_memory(batch):
    """An encoder output that depends on nothing in the target."""
    return np.linspace(-1, 1, batch * 3 * WIDTH, dtype="float32").reshape(batch, 3, WIDTH)


SEQUENCE_LAYERS = {
    "multi_head": lambda: self_attention(layers.MultiHeadAttention(2, 4)),
    "multi_head_explicit": lambda: (
        lambda layer: lambda x, mask, causal: layer(
            x, x, query_mask=mask, value_mask=mask, use_causal_mask=causal, return_attention_scores=True
        )[0]
    )(layers.MultiHeadAttention(2, 4)),
    "additive": lambda: self_attention(layers.AdditiveAttention(6)),
    "luong_general": lambda: self_attention(layers.DotProductAttention("general")),
    "luong_concat": lambda: self_attention(layers.DotProductAttention("concat", units=6)),
    "encoder_block": lambda: (
        lambda block: lambda x, mask, causal: block(x, mask=mask, use_causal_mask=causal)
    )(layers.TransformerEncoderBlock(2, 16)),
    "decoder_block": lambda: (
        lambda block: lambda x, mask, causal: block(
            x, fixed_memory(x.shape[0]), inputs_mask=mask, use_causal_mask=causal
        )
    )(layers.TransformerDecoderBlock(2, 16)),
}
LAYERS = {name: make() for name, make in SEQUENCE_LAYERS.items()}

shapes = st.tuples(st.integers(1, 4), st.integers(2, 9), st.integers(0, 2**32 - 1))


def draw_inputs(batch, length, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, length, WIDTH)).astype("float32")
    lengths = rng.integers(1, length + 1, size=batch)
    mask = np.arange(length)[None, :] < lengths[:, None]
    return rng, x, mask


@pytest.mark.parametrize("name", sorted(LAYERS))
@given(shape=shapes)
def test_padding_never_changes_real_positions(name, shape):
    rng, x, mask = draw_inputs(*shape)
    garbage = np.where(mask[..., None], x, 100 * rng.standard_normal(x.shape).astype("float32"))
    apply = LAYERS[name]
    before = keras.ops.convert_to_numpy(apply(x, mask, False))
    after = keras.ops.convert_to_numpy(apply(garbage, mask, False))
    np.testing.assert_allclose(before[mask], after[mask], atol=1e-4)


@pytest.mark.parametrize("name", sorted(LAYERS))
@given(shape=shapes, data=st.data())
def test_causal_outputs_never_depend_on_later_positions(name, shape, data):
    rng, x, _ = draw_inputs(*shape)
    length = x.shape[1]
    t = data.draw(st.integers(1, length - 1), label="first changed position")
    changed = x.copy()
    changed[:, t:] = rng.standard_normal(changed[:, t:].shape)
    no_padding = np.ones(x.shape[:2], bool)
    apply = LAYERS[name]
    before = keras.ops.convert_to_numpy(apply(x, no_padding, True))
    after = keras.ops.convert_to_numpy(apply(changed, no_padding, True))
    np.testing.assert_allclose(before[:, :t], after[:, :t], atol=1e-5)
    assert not np.allclose(before[:, t:], after[:, t:])


def test_attention_pooling_ignores_padding(rng):
    pooling = layers.AttentionPooling(units=4)
    for _ in range(10):
        _, x, mask = draw_inputs(3, 7, int(rng.integers(2**32)))
        garbage = np.where(mask[..., None], x, 1e3)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(pooling(x, mask=mask)),
            keras.ops.convert_to_numpy(pooling(garbage, mask=mask)),
            atol=1e-5,
        )


FLOAT16_LAYERS = {  # name: (layer of a dtype policy, the half-precision policy)
    "multi_head": (lambda dtype: layers.MultiHeadAttention(2, 4, dtype=dtype), "float16"),
    "additive": (lambda dtype: layers.AdditiveAttention(6, dtype=dtype), "float16"),
    "luong_scaled": (lambda dtype: layers.DotProductAttention("scaled", dtype=dtype), "float16"),
    "mixed_precision_block": (lambda dtype: layers.TransformerEncoderBlock(2, 16, dtype=dtype), "mixed_float16"),
}


def call_with_masks(name, layer, x, mask, return_scores):
    if name == "mixed_precision_block":
        return layer(x, mask=mask, use_causal_mask=True, return_attention_scores=return_scores)
    return layer(x, x, query_mask=mask, value_mask=mask, use_causal_mask=True, return_attention_scores=return_scores)


def as_float32_list(outputs, return_scores):
    return [keras.ops.convert_to_numpy(output).astype("float32") for output in (outputs if return_scores else [outputs])]


@pytest.mark.parametrize("name", sorted(FLOAT16_LAYERS))
@pytest.mark.parametrize("return_scores", [False, True], ids=["fused", "explicit"])
@given(shape=shapes)
def test_float16_with_masks_is_near_float32_and_stays_finite(name, return_scores, shape):
    _, x, mask = draw_inputs(*shape)
    make, half = FLOAT16_LAYERS[name]
    layer, reference = make(half), make("float32")
    call_with_masks(name, reference, x, mask, return_scores)
    call_with_masks(name, layer, x.astype("float16"), mask, return_scores)
    reference.set_weights(layer.get_weights())  # the same (float16-rounded) weights in float32

    outputs = as_float32_list(call_with_masks(name, layer, x.astype("float16"), mask, return_scores), return_scores)
    expected = as_float32_list(call_with_masks(name, reference, x, mask, return_scores), return_scores)
    for output, wanted in zip(outputs, expected):
        np.testing.assert_allclose(output, wanted, atol=1e-2, rtol=1e-2)  # float16 errors here: about 1e-3
    if return_scores:  # a masked or later key gets exactly no weight
        length = x.shape[1]
        allowed = mask[:, :, None] & mask[:, None, :] & np.tril(np.ones((length, length), bool))
        weights = outputs[-1]
        allowed = allowed[:, None] if weights.ndim == 4 else allowed
        assert not np.broadcast_to(~allowed, weights.shape)[weights != 0].any()

    large = (30 * x).astype("float16")  # large logits: overflow would show as inf/NaN
    for output in as_float32_list(call_with_masks(name, layer, large, mask, return_scores), return_scores):
        assert np.isfinite(output).all()
