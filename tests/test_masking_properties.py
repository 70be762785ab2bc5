"""Property tests: padding never leaks into real positions, causal masks never look ahead,
and float16 with masks stays finite. Inputs come from Hypothesis-drawn seeds and shapes."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layers

WIDTH = 8
PROPERTY_SETTINGS = settings(max_examples=15, deadline=None)


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
            x, fixed_memory(x.shape[0]), mask=mask, use_causal_mask=causal
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
@PROPERTY_SETTINGS
@given(shape=shapes)
def test_padding_never_changes_real_positions(name, shape):
    rng, x, mask = draw_inputs(*shape)
    garbage = np.where(mask[..., None], x, 100 * rng.standard_normal(x.shape).astype("float32"))
    apply = LAYERS[name]
    before = keras.ops.convert_to_numpy(apply(x, mask, False))
    after = keras.ops.convert_to_numpy(apply(garbage, mask, False))
    np.testing.assert_allclose(before[mask], after[mask], atol=1e-4)


@pytest.mark.parametrize("name", sorted(LAYERS))
@PROPERTY_SETTINGS
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


FLOAT16_LAYERS = {
    "multi_head": lambda: layers.MultiHeadAttention(2, 4, dtype="float16"),
    "additive": lambda: layers.AdditiveAttention(6, dtype="float16"),
    "luong_scaled": lambda: layers.DotProductAttention("scaled", dtype="float16"),
    "mixed_precision_block": lambda: layers.TransformerEncoderBlock(2, 16, dtype="mixed_float16"),
}


@pytest.mark.parametrize("name", sorted(FLOAT16_LAYERS))
@pytest.mark.parametrize("return_scores", [False, True], ids=["fused", "explicit"])
@PROPERTY_SETTINGS
@given(shape=shapes)
def test_float16_with_masks_stays_finite(name, return_scores, shape):
    _, x, mask = draw_inputs(*shape)
    x = (30 * x).astype("float16")  # large logits: overflow would show as inf/NaN
    layer = FLOAT16_LAYERS[name]()
    kwargs = {"mask": mask} if name == "mixed_precision_block" else {"query_mask": mask, "value_mask": mask}
    args = (x,) if name == "mixed_precision_block" else (x, x)
    outputs = layer(*args, use_causal_mask=True, return_attention_scores=return_scores, **kwargs)
    for output in outputs if return_scores else [outputs]:
        output = keras.ops.convert_to_numpy(output).astype("float32")
        assert np.isfinite(output).all()
