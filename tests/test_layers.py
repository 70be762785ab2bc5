"""Each layer against the NumPy reference, and against Keras / KerasHub with copied weights."""

import keras
import keras_hub
import numpy as np
import pytest

import layers
import numpy_reference as ref
from error_messages import raises_mentioning

TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def random(rng, *shape):
    return rng.standard_normal(shape).astype("float32")


@pytest.mark.parametrize("causal", [False, True])
def test_additive_attention_matches_numpy(rng, causal):
    query, value = random(rng, 3, 5, 6), random(rng, 3, 5, 4)
    query_mask, value_mask = ref.random_padding_mask(rng, 3, 5), ref.random_padding_mask(rng, 3, 5)
    layer = layers.AdditiveAttention(units=7)
    layer.build(query.shape, value.shape)
    w_q, w_k, bias, v = (rng.standard_normal(w.shape).astype("float32") for w in layer.get_weights())
    layer.set_weights([w_q, w_k, bias, v])

    context, weights = layer(
        query,
        value,
        query_mask=query_mask,
        value_mask=value_mask,
        use_causal_mask=causal,
        return_attention_scores=True,
    )
    mask = ref.full_mask(3, 5, 5, query_mask, value_mask, causal)
    expected_context, expected_weights = ref.additive(query, value, value, w_q, w_k, bias, v, mask)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(context), expected_context, **TOLERANCE)


@pytest.mark.parametrize("mode", ["dot", "general", "scaled", "concat"])
def test_luong_attention_matches_numpy(rng, mode):
    query, key, value = random(rng, 2, 4, 8), random(rng, 2, 6, 8), random(rng, 2, 6, 3)
    value_mask = ref.random_padding_mask(rng, 2, 6)
    layer = layers.DotProductAttention(score_mode=mode, units=5)
    layer.build(query.shape, value.shape, key.shape)
    new_weights = [rng.standard_normal(w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(new_weights)

    context, weights = layer(query, value, key, value_mask=value_mask, return_attention_scores=True)
    mask = ref.full_mask(2, 4, 6, value_mask=value_mask)
    named = dict(zip({"general": ["w"], "concat": ["w_q", "w_k", "v"]}.get(mode, []), new_weights))
    expected_context, expected_weights = ref.luong(query, key, value, mode, mask, **named)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(context), expected_context, **TOLERANCE)


@pytest.mark.backend_independent
def test_keras_additive_attention_is_not_bahdanau(rng):
    """Ours learns W_q, W_k, v; keras.layers.AdditiveAttention has only a scale."""
    ours = layers.AdditiveAttention(units=4)
    ours.build((1, 3, 4), (1, 3, 4))
    theirs = keras.layers.AdditiveAttention()
    theirs.build([(1, 3, 4), (1, 3, 4)])
    assert len(ours.trainable_weights) == 4 and len(theirs.trainable_weights) == 1


def _multi_head_pair(rng, num_heads=3, key_dim=4, value_dim=5, width=7, value_width=6):
    ours = layers.MultiHeadAttention(num_heads, key_dim, value_dim=value_dim)
    theirs = keras.layers.MultiHeadAttention(num_heads, key_dim, value_dim=value_dim)
    query, value = random(rng, 2, 5, width), random(rng, 2, 6, value_width)
    # build, not call: Keras' own layer fails on JAX when value_dim != key_dim.
    theirs.build(query.shape, value.shape)
    ours.build(query.shape, value.shape)
    theirs.set_weights([rng.standard_normal(w.shape).astype("float32") * 0.3 for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    return ours, theirs, query, value


def test_multi_head_attention_matches_numpy(rng):
    ours, theirs, query, value = _multi_head_pair(rng)
    query_mask, value_mask = ref.random_padding_mask(rng, 2, 5), ref.random_padding_mask(rng, 2, 6)
    output, weights = ours(
        query, value, query_mask=query_mask, value_mask=value_mask, return_attention_scores=True
    )
    mask = ref.full_mask(2, 5, 6, query_mask, value_mask)
    expected_output, expected_weights = ref.multi_head(query, value, value, ours.get_weights(), mask)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(output), expected_output, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_keras(rng, causal):
    ours, theirs, query, _ = _multi_head_pair(rng, value_dim=4, width=6, value_width=6)
    value = random(rng, 2, 5, 6)  # same length as the query, so causal is defined for Keras too
    value_mask = ref.random_padding_mask(rng, 2, 5)
    expected, expected_weights = theirs(
        query, value, value_mask=value_mask, use_causal_mask=causal, return_attention_scores=True
    )
    output, weights = ours(query, value, value_mask=value_mask, use_causal_mask=causal, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(output), to_numpy(expected), **TOLERANCE)
    np.testing.assert_allclose(to_numpy(weights), to_numpy(expected_weights), **TOLERANCE)


def random_attention_mask(rng, batch, t_q, t_k):
    """`(batch, T_q, T_k)`, True where query i may attend to key j; some rows may allow no key."""
    return rng.random((batch, t_q, t_k)) < 0.6


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_with_a_key_and_an_attention_mask_matches_numpy_and_keras(rng, causal):
    ours, theirs, query, _ = _multi_head_pair(rng, value_dim=4, width=6, value_width=6)
    key, value = random(rng, 2, 5, 6), random(rng, 2, 5, 6)  # the key differs from the value
    attention_mask = random_attention_mask(rng, 2, 5, 5)
    attention_mask[:, :, 0] = True  # Keras spreads a row with no allowed key uniformly; ours zeroes it
    value_mask = ref.random_padding_mask(rng, 2, 5)
    options = {"use_causal_mask": causal, "return_attention_scores": True}
    output, weights = ours(query, value, key, value_mask=value_mask, attention_mask=attention_mask, **options)
    mask = attention_mask & ref.full_mask(2, 5, 5, value_mask=value_mask, causal=causal)
    expected_output, expected_weights = ref.multi_head(query, key, value, ours.get_weights(), mask)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(output), expected_output, atol=1e-4, rtol=1e-4)
    keras_output, keras_weights = theirs(query, value, key, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(output), to_numpy(keras_output), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(to_numpy(weights), to_numpy(keras_weights), **TOLERANCE)


def test_additive_and_luong_attention_with_a_key_and_an_attention_mask_match_numpy(rng):
    query, key, value = random(rng, 3, 4, 6), random(rng, 3, 5, 6), random(rng, 3, 5, 3)
    attention_mask = random_attention_mask(rng, 3, 4, 5)  # with rows that allow no key: all-zero weights
    query_mask = ref.random_padding_mask(rng, 3, 4)
    mask = attention_mask & ref.full_mask(3, 4, 5, query_mask=query_mask)

    additive = layers.AdditiveAttention(units=7)
    additive.build(query.shape, value.shape, key.shape)
    additive.set_weights([random(rng, *w.shape) for w in additive.get_weights()])
    general = layers.DotProductAttention("general")
    general.build(query.shape, value.shape, key.shape)
    general.set_weights([random(rng, *w.shape) for w in general.get_weights()])
    expected = {
        "additive": ref.additive(query, key, value, *additive.get_weights(), mask),
        "general": ref.luong(query, key, value, "general", mask, w=general.get_weights()[0]),
    }
    for name, layer in (("additive", additive), ("general", general)):
        context, weights = layer(
            query, value, key, query_mask=query_mask, attention_mask=attention_mask, return_attention_scores=True
        )
        np.testing.assert_allclose(to_numpy(weights), expected[name][1], **TOLERANCE)
        np.testing.assert_allclose(to_numpy(context), expected[name][0], **TOLERANCE)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("make_layer", [
    lambda: layers.MultiHeadAttention(4, 3),
    lambda: layers.DotProductAttention("scaled"),
    lambda: layers.DotProductAttention("general"),
    lambda: layers.DotProductAttention("dot"),
], ids=["multi_head", "scaled", "general", "dot"])
def test_fused_path_equals_explicit_path(rng, make_layer, causal, monkeypatch):
    fused_calls, fused_kernel = [], keras.ops.dot_product_attention
    monkeypatch.setattr(keras.ops, "dot_product_attention", lambda *a, **k: fused_calls.append(k) or fused_kernel(*a, **k))
    layer = make_layer()
    query, value = random(rng, 3, 7, 12), random(rng, 3, 7, 12)
    masks = {"query_mask": ref.random_padding_mask(rng, 3, 7), "value_mask": ref.random_padding_mask(rng, 3, 7)}
    fused = layer(query, value, use_causal_mask=causal, **masks)
    assert len(fused_calls) == 1  # the backend's kernel ran
    explicit, weights = layer(query, value, use_causal_mask=causal, return_attention_scores=True, **masks)
    assert len(fused_calls) == 1  # asking for the weights computes them explicitly
    np.testing.assert_allclose(to_numpy(fused), to_numpy(explicit), **TOLERANCE)
    # Masked keys get zero weight; rows sum to 1, or 0 for padded queries.
    weights = to_numpy(weights).reshape(3, -1, 7, 7)
    mask = ref.full_mask(3, 7, 7, masks["query_mask"], masks["value_mask"], causal)[:, None]
    assert np.all(weights[~np.broadcast_to(mask, weights.shape)] == 0)
    np.testing.assert_allclose(weights.sum(-1), np.broadcast_to(mask.any(-1), weights.shape[:-1]), atol=1e-6)


@pytest.mark.parametrize("block", ["encoder", "decoder"])
@pytest.mark.parametrize("dropout, attention_dropout", [(0.5, 0.0), (0.0, 0.5), (0.0, 0.0)])
def test_attention_dropout_is_its_own_rate_and_without_it_training_runs_the_fused_kernel(
    rng, block, dropout, attention_dropout, monkeypatch
):
    """`dropout` drops the sublayer outputs, `attention_dropout` the attention weights: a training step runs
    the fused kernel unless the weights are dropped, and differs from inference when either rate is set."""
    fused_calls, fused_kernel = [], keras.ops.dot_product_attention
    monkeypatch.setattr(keras.ops, "dot_product_attention", lambda *a, **k: fused_calls.append(k) or fused_kernel(*a, **k))
    make = layers.TransformerEncoderBlock if block == "encoder" else layers.TransformerDecoderBlock
    layer = make(2, 16, dropout=dropout, attention_dropout=attention_dropout)
    x = random(rng, 2, 6, 8)
    inputs = (x,) if block == "encoder" else (x, random(rng, 2, 5, 8))
    inference = to_numpy(layer(*inputs, training=False))
    fused_calls.clear()
    trained = to_numpy(layer(*inputs, training=True))
    attention_layers = 1 if block == "encoder" else 2
    assert len(fused_calls) == (0 if attention_dropout else attention_layers)
    assert np.allclose(trained, inference) == (dropout == attention_dropout == 0.0)


def test_dropout_applies_only_in_training(rng):
    layer = layers.MultiHeadAttention(2, 4, dropout=0.5)
    x = random(rng, 2, 6, 8)
    inference = [to_numpy(layer(x, x, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    assert not np.allclose(to_numpy(layer(x, x, training=True)), inference[0])


def test_sinusoidal_encoding_matches_numpy_and_keras_hub(rng):
    x = random(rng, 2, 11, 10)
    ours = to_numpy(layers.SinusoidalPositionEncoding()(x, start_index=3))
    np.testing.assert_allclose(ours[0], ref.sinusoidal(11, 10, start=3), atol=1e-5)
    theirs = to_numpy(keras_hub.layers.SinePositionEncoding()(x, start_index=3))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_position_embedding_matches_table_and_keras_hub(rng):
    x = random(rng, 2, 5, 4)
    ours = layers.PositionEmbedding(sequence_length=9)
    theirs = keras_hub.layers.PositionEmbedding(sequence_length=9)
    ours.build(x.shape)
    theirs.build(x.shape)
    table = random(rng, 9, 4)
    ours.set_weights([table])
    theirs.set_weights([table])
    np.testing.assert_allclose(to_numpy(ours(x, start_index=2))[1], table[2:7])
    np.testing.assert_allclose(to_numpy(ours(x, start_index=2)), to_numpy(theirs(x, start_index=2)))
    with raises_mentioning("`sequence_length`", "sequence_length=9", "10 positions"):
        layers.PositionEmbedding(sequence_length=9).build((2, 10, 4))
    np.testing.assert_allclose(to_numpy(ours(x, start_index=4))[0], table[4:9])  # the last rows
    with raises_mentioning("5..9", "sequence_length=9", "(0..8)"):
        ours(x, start_index=5)


def test_token_and_position_embedding_matches_keras_hub_and_masks(rng):
    tokens = rng.integers(1, 50, size=(3, 8))
    tokens[0, 5:] = 0
    ours = layers.TokenAndPositionEmbedding(50, 8, 6, mask_zero=True)
    theirs = keras_hub.layers.TokenAndPositionEmbedding(50, 8, 6, mask_zero=True)
    ours(tokens)
    theirs(tokens)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(tokens)), to_numpy(theirs(tokens)), **TOLERANCE)
    np.testing.assert_array_equal(to_numpy(ours.compute_mask(tokens)), tokens != 0)

    scaled = layers.TokenAndPositionEmbedding(50, 8, 6, position_encoding="sinusoidal", scale_embeddings=True)
    table = to_numpy(scaled.token_embedding(tokens))
    np.testing.assert_allclose(
        to_numpy(scaled(tokens)), table * np.sqrt(6) + ref.sinusoidal(8, 6)[None], **TOLERANCE
    )


def test_token_embedding_equals_keras_embedding_and_refuses_ids_outside_its_vocabulary(rng):
    """In range it is Keras' Embedding; outside, an eager call names the id and a compiled one gives NaN rows."""
    tokens = rng.integers(0, 20, size=(3, 7))
    ours, theirs = layers.TokenEmbedding(20, 5, mask_zero=True), keras.layers.Embedding(20, 5, mask_zero=True)
    ours.build(tokens.shape)
    theirs.build(tokens.shape)
    theirs.set_weights([random(rng, 20, 5)])
    ours.set_weights(theirs.get_weights())
    np.testing.assert_array_equal(to_numpy(ours(tokens)), to_numpy(theirs(tokens)))
    np.testing.assert_array_equal(to_numpy(ours.compute_mask(tokens)), tokens != 0)

    row, column = rng.integers(0, 3), rng.integers(0, 7)
    for bad_id in (20, 20 + int(rng.integers(1, 1000)), -1):
        bad = tokens.copy()
        bad[row, column] = bad_id
        with raises_mentioning(f"token id {bad_id}", f"({row}, {column})", "[0, 20)"):
            ours(bad)
        model = keras.Sequential([keras.Input((7,), dtype="int32"), ours])
        compiled = model.predict(bad, verbose=0)
        assert np.isnan(compiled[row, column]).all()
        outside = np.ones(bad.shape, bool)
        outside[row, column] = False
        np.testing.assert_array_equal(compiled[outside], to_numpy(theirs(tokens))[outside])


def test_reverse_embedding_is_the_states_times_the_transposed_token_table(rng):
    """Weight tying (Press & Wolf, 2017): ``logits = h E^T`` with the token table E, shape (vocabulary, d)."""
    embedding = layers.TokenAndPositionEmbedding(30, 8, 6, mask_zero=True)
    embedding(rng.integers(0, 30, size=(1, 4)))
    table = to_numpy(embedding.token_embedding.embeddings)
    states = random(rng, 2, 5, 6)
    np.testing.assert_allclose(to_numpy(embedding(states, reverse=True)), states @ table.T, **TOLERANCE)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_matches_keras_hub(rng, norm_first):
    x = random(rng, 3, 6, 8)
    mask = ref.random_padding_mask(rng, 3, 6)
    ours = layers.TransformerEncoderBlock(2, 16, norm_first=norm_first, activation="gelu")
    theirs = keras_hub.layers.TransformerEncoder(16, 2, normalize_first=norm_first, activation="gelu")
    ours(x)
    theirs(x)
    theirs.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    output, scores = ours(x, mask=mask, return_attention_scores=True)
    expected, expected_scores = theirs(x, padding_mask=mask, return_attention_scores=True)
    # KerasHub masks keys only; ours also zeroes padded query rows, so compare real rows.
    np.testing.assert_allclose(to_numpy(output)[mask], to_numpy(expected)[mask], atol=1e-4, rtol=1e-4)
    real_rows = np.broadcast_to(mask[:, None, :, None], to_numpy(scores).shape)
    np.testing.assert_allclose(to_numpy(scores)[real_rows], to_numpy(expected_scores)[real_rows], **TOLERANCE)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_matches_keras_hub(rng, norm_first):
    target, memory = random(rng, 3, 5, 8), random(rng, 3, 7, 8)
    target_mask, memory_mask = ref.random_padding_mask(rng, 3, 5), ref.random_padding_mask(rng, 3, 7)
    ours = layers.TransformerDecoderBlock(2, 16, norm_first=norm_first)
    theirs = keras_hub.layers.TransformerDecoder(16, 2, normalize_first=norm_first)
    ours(target, memory)
    theirs(target, memory)
    theirs.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    output, self_scores, cross_scores = ours(
        target, memory, inputs_mask=target_mask, memory_mask=memory_mask, return_attention_scores=True
    )
    expected = theirs(target, memory, decoder_padding_mask=target_mask, encoder_padding_mask=memory_mask)
    real = target_mask
    np.testing.assert_allclose(to_numpy(output)[real], to_numpy(expected)[real], atol=1e-4, rtol=1e-4)
    # KerasHub's decoder returns no scores: check them against the masks they must respect.
    allowed_self = ref.full_mask(3, 5, 5, target_mask, target_mask, causal=True)
    allowed_cross = ref.full_mask(3, 5, 7, target_mask, memory_mask)
    for scores, allowed in ((self_scores, allowed_self), (cross_scores, allowed_cross)):
        scores = to_numpy(scores)
        assert np.all(scores[~np.broadcast_to(allowed[:, None], scores.shape)] == 0)
        np.testing.assert_allclose(scores.sum(-1), np.broadcast_to(real[:, None, :], scores.shape[:-1]), **TOLERANCE)


@pytest.mark.parametrize("chunks", [[1] * 6, [2, 3, 1]])
def test_cached_decoding_equals_full_decoding(rng, chunks):
    target, memory = random(rng, 2, 6, 8), random(rng, 2, 4, 8)
    memory_mask = ref.random_padding_mask(rng, 2, 4)
    block = layers.TransformerDecoderBlock(2, 16, norm_first=True)
    full, full_self, full_cross = block(target, memory, memory_mask=memory_mask, return_attention_scores=True)

    cache, memory_cache, start = block.empty_cache(2), block.precompute_memory(memory), 0
    for size in chunks:
        step, cache, self_scores, cross_scores = block(
            target[:, start : start + size],
            self_attention_cache=cache,
            memory_cache=memory_cache,
            memory_mask=memory_mask,
            return_attention_scores=True,
        )
        stop = start + size
        np.testing.assert_allclose(to_numpy(step), to_numpy(full)[:, start:stop], **TOLERANCE)
        np.testing.assert_allclose(to_numpy(self_scores), to_numpy(full_self)[:, :, start:stop, :stop], **TOLERANCE)
        np.testing.assert_allclose(to_numpy(cross_scores), to_numpy(full_cross)[:, :, start:stop], **TOLERANCE)
        assert tuple(cache.shape) == (2, 2, stop, 2, 4)
        start = stop


@pytest.mark.backend_independent
def test_decoder_block_without_memory_is_an_error(rng):
    block = layers.TransformerDecoderBlock(2, 16)
    with raises_mentioning("`memory`", "`memory_cache`"):
        block(random(rng, 1, 3, 8))


def randomize_weights(rng, layer, scale=0.5):
    for variable in layer.weights:
        variable.assign(scale * random(rng, *variable.shape))


def values(*variables):
    return [to_numpy(variable).astype("float64") for variable in variables]


def test_bahdanau_decoder_matches_numpy_step_by_step(rng):
    targets, memory = random(rng, 3, 5, 6), random(rng, 3, 7, 8)
    memory_mask, s0 = ref.random_padding_mask(rng, 3, 7), random(rng, 3, 10)
    decoder = layers.BahdanauDecoder(units=10, attention_units=9)
    decoder.build(targets.shape, memory.shape)
    randomize_weights(rng, decoder)

    outputs, (final_state,), alignments = decoder(
        targets, memory, initial_state=[s0], memory_mask=memory_mask, return_state=True, return_attention_scores=True
    )
    attention, cell = decoder.attention, decoder.cell
    expected_outputs, expected_alignments = ref.bahdanau_decoder(
        targets, memory, memory_mask, s0,
        values(attention.query_kernel, attention.key_kernel, attention.bias, attention.scorer),
        values(cell.kernel, cell.recurrent_kernel, cell.bias),
    )
    np.testing.assert_allclose(to_numpy(alignments), expected_alignments, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(outputs), expected_outputs, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(final_state), expected_outputs[:, -1, :10], **TOLERANCE)
    assert not to_numpy(alignments)[~np.broadcast_to(memory_mask[:, None], (3, 5, 7))].any()


@pytest.mark.parametrize("score_mode, num_layers, input_feeding", [
    ("general", 2, True), ("dot", 1, True), ("concat", 1, False),
])
def test_luong_decoder_matches_numpy_step_by_step(rng, score_mode, num_layers, input_feeding):
    targets, memory = random(rng, 3, 5, 6), random(rng, 3, 7, 12)
    memory_mask = ref.random_padding_mask(rng, 3, 7)
    states = [(random(rng, 3, 12), random(rng, 3, 12)) for _ in range(num_layers)]
    decoder = layers.LuongDecoder(units=12, num_layers=num_layers, score_mode=score_mode, input_feeding=input_feeding)
    decoder.build(targets.shape, memory.shape)
    randomize_weights(rng, decoder)

    outputs, alignments = decoder(
        targets, memory, initial_state=[s for pair in states for s in pair], memory_mask=memory_mask,
        return_attention_scores=True,
    )
    attention = decoder.attention
    score_weights = {
        "general": lambda: dict(zip(["w"], values(attention.kernel))),
        "dot": dict,
        "concat": lambda: dict(zip(["w_q", "w_k", "v"], values(attention.query_kernel, attention.key_kernel, attention.scorer))),
    }[score_mode]()
    expected_outputs, expected_alignments = ref.luong_decoder(
        targets, memory, memory_mask, states, score_mode, score_weights,
        [values(cell.kernel, cell.recurrent_kernel, cell.bias) for cell in decoder.cells],
        *values(decoder.attentional_projection.kernel), input_feeding,
    )
    np.testing.assert_allclose(to_numpy(alignments), expected_alignments, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(outputs), expected_outputs, **TOLERANCE)


def test_recurrent_decoders_take_the_implicit_memory_mask(rng):
    source = np.array([[5, 6, 0, 0], [7, 8, 9, 3]])
    memory = keras.layers.Embedding(10, 8, mask_zero=True)(source)
    targets = random(rng, 2, 3, 4)
    for decoder in (layers.BahdanauDecoder(6), layers.LuongDecoder(8, score_mode="dot")):
        _, implicit = decoder(targets, memory, return_attention_scores=True)
        _, explicit = decoder(targets, memory, memory_mask=source != 0, return_attention_scores=True)
        np.testing.assert_array_equal(to_numpy(implicit), to_numpy(explicit))
        assert not to_numpy(implicit)[0, :, 2:].any()


def test_padded_target_steps_leave_the_recurrent_decoder_state_unchanged(rng):
    targets, memory = random(rng, 2, 5, 4), random(rng, 2, 3, 8)
    lengths = (5, 2)
    target_mask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    for decoder in (layers.BahdanauDecoder(6), layers.LuongDecoder(8, num_layers=2, score_mode="dot")):
        outputs, state = decoder(targets, memory, inputs_mask=target_mask, return_state=True)
        for row, length in enumerate(lengths):
            unpadded, unpadded_state = decoder(targets[row : row + 1, :length], memory[row : row + 1], return_state=True)
            np.testing.assert_allclose(to_numpy(outputs)[row, :length], to_numpy(unpadded)[0], **TOLERANCE)
            for final, expected in zip(state, unpadded_state, strict=True):
                np.testing.assert_allclose(to_numpy(final)[row], to_numpy(expected)[0], **TOLERANCE)
        embedded = keras.layers.Embedding(10, 4, mask_zero=True)(np.where(target_mask, 3, 0))
        implicit = decoder(embedded, memory, return_state=True)[1]
        explicit = decoder(embedded, memory, inputs_mask=target_mask, return_state=True)[1]
        for a, b in zip(implicit, explicit, strict=True):
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


@pytest.mark.parametrize("shape", [(2, 5, 6, 32), (3, 7, 24), (1, 2, 3, 4, 20)])
def test_squeeze_excitation_matches_numpy(rng, shape):
    x = random(rng, *shape)
    layer = layers.SqueezeExcitation(ratio=4)
    layer.build(x.shape)
    randomize_weights(rng, layer)
    y, s = layer(x, return_attention_scores=True)
    expected_y, expected_s = ref.squeeze_excitation(
        x, *values(layer.reduce.kernel, layer.reduce.bias, layer.expand.kernel, layer.expand.bias)
    )
    np.testing.assert_allclose(to_numpy(s), expected_s, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(y), expected_y, **TOLERANCE)
    assert layer.reduce.kernel.shape == (shape[-1], shape[-1] // 4)


@pytest.mark.parametrize("shape, kernel_size", [((2, 4, 5, 64), None), ((2, 6, 20), 5), ((1, 3, 3, 9), 1)])
def test_efficient_channel_attention_matches_numpy(rng, shape, kernel_size):
    x = random(rng, *shape)
    layer = layers.EfficientChannelAttention(kernel_size)
    layer.build(x.shape)
    randomize_weights(rng, layer, scale=1.0)
    y, s = layer(x, return_attention_scores=True)
    expected_y, expected_s = ref.eca(x, *values(layer.kernel))
    np.testing.assert_allclose(to_numpy(s), expected_s, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(y), expected_y, **TOLERANCE)


@pytest.mark.backend_independent
def test_eca_kernel_size_follows_the_paper_formula():
    """k = |log2(C)/gamma + b/gamma|_odd, gamma=2, b=1 (Wang et al. 2020, Eq. 12), with the
    authors' rounding (int, then up to the next odd): 64 -> 3, 128..1024 -> 5, 2048 -> 7."""
    expected = {64: 3, 128: 5, 256: 5, 512: 5, 1024: 5, 2048: 7}
    for channels, size in expected.items():
        t = (np.log2(channels) + 1) / 2
        assert size % 2 == 1 and abs(size - t) <= 1  # an odd number next to t
        layer = layers.EfficientChannelAttention()
        layer.build((None, 2, 2, channels))
        assert layer.kernel.shape == (size,), channels


@pytest.mark.parametrize("make", [lambda: layers.SqueezeExcitation(ratio=2), lambda: layers.EfficientChannelAttention()])
def test_channel_attention_pools_only_the_kept_pixels_of_a_masked_image(rng, make):
    x = random(rng, 2, 5, 4, 8)
    mask = rng.random((2, 5, 4)) < 0.6
    mask[:, 0, 0] = True
    layer = make()
    _, weights = layer(x, mask=mask, return_attention_scores=True)
    _, noisy_weights = layer(np.where(mask[..., None], x, random(rng, 2, 5, 4, 8)), mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(noisy_weights), to_numpy(weights), **TOLERANCE)
    # The masked mean over the kept pixels, through the layer's own excitation, gives the same weights.
    pooled = (x * mask[..., None]).sum(axis=(1, 2)) / mask.sum(axis=(1, 2))[:, None]
    _, from_pooled = layer(pooled[:, None, :], return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(from_pooled), to_numpy(weights), **TOLERANCE)
    with raises_mentioning("`mask`", "(2, 5, 4)", "(2, 5)"):
        layer(x, mask=mask[:, :, 0])


@pytest.mark.parametrize("make", [lambda: layers.SqueezeExcitation(ratio=2), lambda: layers.EfficientChannelAttention()])
def test_channel_attention_pools_only_the_real_steps_of_a_masked_sequence(rng, make):
    x, mask = random(rng, 3, 6, 8), ref.random_padding_mask(rng, 3, 6)
    padded = np.where(mask[..., None], x, random(rng, 3, 6, 8))
    layer = make()
    _, weights = layer(x, mask=mask, return_attention_scores=True)
    _, padded_weights = layer(padded, mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(padded_weights), to_numpy(weights), **TOLERANCE)
    embedded = keras.layers.Embedding(10, 8, mask_zero=True)(np.array([[3, 4, 0], [5, 0, 0]]))
    _, implicit = layer(embedded, return_attention_scores=True)
    _, explicit = layer(embedded, mask=np.array([[1, 1, 0], [1, 0, 0]], bool), return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(implicit), to_numpy(explicit), **TOLERANCE)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kernel_size", [7, 3])
def test_cbam_matches_numpy(rng, kernel_size, masked):
    x = random(rng, 2, 6, 5, 16)
    mask = None
    if masked:
        mask = rng.random((2, 6, 5)) < 0.6
        mask[:, 0, 0] = True
    layer = layers.CBAM(ratio=4, kernel_size=kernel_size)
    layer.build(x.shape)
    randomize_weights(rng, layer)
    y, channel, spatial = layer(x, mask=mask, return_attention_scores=True)
    expected_y, expected_channel, expected_spatial = ref.cbam(
        x,
        *values(layer.reduce.kernel, layer.reduce.bias, layer.expand.kernel, layer.expand.bias, layer.spatial_kernel),
        mask=mask,
    )
    np.testing.assert_allclose(to_numpy(channel), expected_channel, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(spatial), expected_spatial, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(y), expected_y, **TOLERANCE)


@pytest.mark.parametrize("image_shape, patch_size", [((2, 8, 12, 3), 4), ((1, 28, 28, 1), (7, 4))])
def test_patch_embedding_matches_numpy_patch_extraction(rng, image_shape, patch_size):
    images = random(rng, *image_shape)
    layer = layers.PatchEmbedding(patch_size, hidden_dim=10)
    layer.build(images.shape)
    randomize_weights(rng, layer)
    expected = ref.patch_embedding(images, *values(layer.kernel, layer.bias))
    np.testing.assert_allclose(to_numpy(layer(images)), expected, **TOLERANCE)
    assert layer.compute_output_shape(image_shape) == expected.shape


def test_class_token_is_prepended(rng):
    tokens = random(rng, 3, 5, 8)
    layer = layers.ClassToken()
    layer.build(tokens.shape)
    randomize_weights(rng, layer)
    out = to_numpy(layer(tokens))
    np.testing.assert_array_equal(out[:, 1:], tokens)
    np.testing.assert_array_equal(out[:, 0], np.broadcast_to(to_numpy(layer.token)[0, 0], (3, 8)))


def test_position_embedding_2d_adds_the_table_and_resizes_bilinearly(rng):
    tokens = random(rng, 2, 1 + 3 * 4, 6)
    layer = layers.PositionEmbedding2D(grid_size=(3, 4))
    np.testing.assert_allclose(to_numpy(layer(tokens)), tokens + to_numpy(layer.table), **TOLERANCE)
    table = to_numpy(layer.table)
    np.testing.assert_allclose(to_numpy(layer.resize((3, 4)).table), table, **TOLERANCE)
    for new_grid in ((5, 7), (2, 2)):
        resized = to_numpy(layer.resize(new_grid).table)
        np.testing.assert_array_equal(resized[:1], table[:1])  # the class token's row is copied
        expected = ref.bilinear_resize(table[1:].reshape(3, 4, 6), new_grid).reshape(-1, 6)
        np.testing.assert_allclose(resized[1:], expected, **TOLERANCE)
    with raises_mentioning("3x4 grid", "13 tokens", "17"):
        layers.PositionEmbedding2D(grid_size=(3, 4))(random(rng, 1, 17, 6))


@pytest.mark.parametrize("units", [None, 5])
def test_attention_pooling_matches_numpy(rng, units):
    states = random(rng, 4, 7, 6)
    mask = ref.random_padding_mask(rng, 4, 7)
    layer = layers.AttentionPooling(units=units)
    layer.build(states.shape)
    new = [rng.standard_normal(w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(new)
    pooled, weights = layer(states, mask=mask, return_attention_scores=True)
    named = dict(zip(["kernel", "bias", "context"] if units else ["context"], new))
    expected_pooled, expected_weights = ref.attention_pooling(states, mask=mask, **named)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, **TOLERANCE)
    np.testing.assert_allclose(to_numpy(pooled), expected_pooled, **TOLERANCE)


def test_implicit_keras_mask_equals_explicit_mask(rng):
    tokens = rng.integers(1, 30, size=(3, 6))
    tokens[1, 3:] = 0
    tokens[2, 1:] = 0
    embed = keras.layers.Embedding(30, 8, mask_zero=True)
    attention = layers.MultiHeadAttention(2, 4)
    inputs = keras.Input((None,), dtype="int32")
    x = embed(inputs)
    model = keras.Model(inputs, attention(x, x))
    vectors = embed(tokens)
    explicit = attention(vectors, vectors, query_mask=tokens != 0, value_mask=tokens != 0)
    np.testing.assert_allclose(to_numpy(model(tokens)), to_numpy(explicit), **TOLERANCE)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_blocks_take_the_implicit_keras_masks(rng, norm_first):
    """Keras fills `mask` only for a layer called on one tensor, `<argument>_mask` otherwise."""
    target_tokens, source_tokens = rng.integers(1, 30, size=(2, 5)), rng.integers(1, 30, size=(2, 4))
    target_tokens[0, 3:], source_tokens[1, 2:] = 0, 0
    target = keras.layers.Embedding(30, 8, mask_zero=True)(target_tokens)
    source = keras.layers.Embedding(30, 8, mask_zero=True)(source_tokens)
    target_mask, source_mask = target_tokens != 0, source_tokens != 0
    encoder = layers.TransformerEncoderBlock(2, 16, norm_first=norm_first)
    decoder = layers.TransformerDecoderBlock(2, 16, norm_first=norm_first)
    pairs = [
        (encoder(source, return_attention_scores=True), encoder(source, mask=source_mask, return_attention_scores=True)),
        (
            decoder(target, source, return_attention_scores=True),
            decoder(target, source, inputs_mask=target_mask, memory_mask=source_mask, return_attention_scores=True),
        ),
    ]
    for implicit, explicit in pairs:
        for a, b in zip(implicit, explicit, strict=True):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), **TOLERANCE)
    cross_scores = to_numpy(pairs[1][0][-1])
    assert not cross_scores[0, :, 3:].any()  # padded target positions attend to nothing


# Each layer, the shapes (without batch) of the tensors it is called on, and a call asking for every output.
SYMBOLIC_CALLS = {
    "SqueezeExcitation": (
        lambda: layers.SqueezeExcitation(ratio=4), [(6, 5, 16)], lambda layer, x: layer(x, return_attention_scores=True)
    ),
    "EfficientChannelAttention": (
        layers.EfficientChannelAttention, [(7, 16)], lambda layer, x: layer(x, return_attention_scores=True)
    ),
    "CBAM": (
        lambda: layers.CBAM(ratio=4, kernel_size=3), [(6, 5, 16)], lambda layer, x: layer(x, return_attention_scores=True)
    ),
    "AttentionPooling": (
        lambda: layers.AttentionPooling(units=5), [(7, 8)], lambda layer, x: layer(x, return_attention_scores=True)
    ),
    "AdditiveAttention": (
        lambda: layers.AdditiveAttention(units=6),
        [(4, 8), (7, 5)],
        lambda layer, q, v: layer(q, v, use_causal_mask=True, return_attention_scores=True),
    ),
    "DotProductAttention": (
        lambda: layers.DotProductAttention("general"),
        [(4, 8), (7, 8)],
        lambda layer, q, v: layer(q, v, return_attention_scores=True),
    ),
    "MultiHeadAttention": (
        lambda: layers.MultiHeadAttention(2, 4, output_dim=6),
        [(4, 8), (7, 5)],
        lambda layer, q, v: layer(q, v, return_attention_scores=True),
    ),
    "MultiHeadAttention with a cache": (
        lambda: layers.MultiHeadAttention(2, 4),
        [(2, 8), (2, 8), (2, 3, 2, 4)],
        lambda layer, q, v, cache: layer(q, v, cache=cache, return_attention_scores=True),
    ),
    "TransformerEncoderBlock": (
        lambda: layers.TransformerEncoderBlock(2, 16),
        [(5, 8)],
        lambda layer, x: layer(x, use_causal_mask=True, return_attention_scores=True),
    ),
    "TransformerDecoderBlock": (
        lambda: layers.TransformerDecoderBlock(2, 16),
        [(5, 8), (7, 8)],
        lambda layer, x, memory: layer(x, memory, return_attention_scores=True),
    ),
    "TransformerDecoderBlock with a cache": (
        lambda: layers.TransformerDecoderBlock(2, 16),
        [(1, 8), (7, 8), (2, 3, 2, 4)],
        lambda layer, x, memory, cache: layer(x, memory, self_attention_cache=cache, return_attention_scores=True),
    ),
    "LuongDecoder": (
        lambda: layers.LuongDecoder(6),
        [(4, 5), (7, 6)],
        lambda layer, x, memory: layer(x, memory, return_state=True, return_attention_scores=True),
    ),
}


@pytest.mark.parametrize("name", sorted(SYMBOLIC_CALLS))
def test_a_functional_model_returns_every_output_of_the_eager_call(rng, name, tmp_path):
    make, shapes, call = SYMBOLIC_CALLS[name]
    layer = make()
    arrays = [random(rng, 2, *shape) for shape in shapes]
    eager = keras.tree.flatten(call(layer, *arrays))
    inputs = [keras.Input(shape) for shape in shapes]
    symbolic = keras.tree.flatten(call(layer, *inputs))
    assert [tuple(t.shape) for t in symbolic] == [(None,) + tuple(t.shape[1:]) for t in eager]
    keras.Model(inputs, symbolic).save(tmp_path / "model.keras")
    outputs = keras.tree.flatten(keras.saving.load_model(tmp_path / "model.keras")(arrays))
    assert len(outputs) == len(eager) > 1
    for output, expected in zip(outputs, eager):
        np.testing.assert_allclose(to_numpy(output), to_numpy(expected), **TOLERANCE)


@pytest.mark.parametrize("make", [
    lambda: layers.MultiHeadAttention(2, 4),
    lambda: layers.AdditiveAttention(units=6),
    lambda: layers.DotProductAttention("general"),
])
def test_the_output_keeps_the_padding_mask_of_the_query(rng, make):
    tokens = rng.integers(1, 30, size=(3, 6))
    tokens[1, 3:] = 0
    tokens[2, 1:] = 0
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(30, 8, mask_zero=True)(inputs)
    attended = make()(x, x)
    states, pooled = keras.Model(inputs, [attended, keras.layers.GlobalAveragePooling1D()(attended)])(tokens)
    real = (tokens != 0)[..., None]
    expected = (to_numpy(states) * real).sum(axis=1) / real.sum(axis=1)
    np.testing.assert_allclose(to_numpy(pooled), expected, **TOLERANCE)


LAYER_FACTORIES = {
    "AdditiveAttention": lambda: layers.AdditiveAttention(8, use_bias=False, dropout=0.1),
    "DotProductAttention": lambda: layers.DotProductAttention("concat", units=6),
    "MultiHeadAttention": lambda: layers.MultiHeadAttention(2, 4, value_dim=3, output_dim=5, use_bias=False),
    "TransformerEncoderBlock": lambda: layers.TransformerEncoderBlock(2, 16, norm_first=True, dropout=0.2, attention_dropout=0.1),
    "TransformerDecoderBlock": lambda: layers.TransformerDecoderBlock(4, 32, key_dim=8, activation="gelu"),
    "AttentionPooling": lambda: layers.AttentionPooling(units=5),
    "SqueezeExcitation": lambda: layers.SqueezeExcitation(ratio=8, use_bias=False),
    "EfficientChannelAttention": lambda: layers.EfficientChannelAttention(kernel_size=5, gamma=3),
    "CBAM": lambda: layers.CBAM(ratio=8, kernel_size=3),
    "PatchEmbedding": lambda: layers.PatchEmbedding((4, 2), 16, use_bias=False),
    "ClassToken": layers.ClassToken,
    "PositionEmbedding2D": lambda: layers.PositionEmbedding2D((3, 5), num_prefix_tokens=0),
    "BahdanauDecoder": lambda: layers.BahdanauDecoder(16, attention_units=8),
    "LuongDecoder": lambda: layers.LuongDecoder(16, num_layers=2, score_mode="concat", input_feeding=False),
    "SinusoidalPositionEncoding": lambda: layers.SinusoidalPositionEncoding(max_wavelength=500),
    "PositionEmbedding": lambda: layers.PositionEmbedding(12),
    "TokenAndPositionEmbedding": lambda: layers.TokenAndPositionEmbedding(40, 12, 8, mask_zero=True),
    "TokenEmbedding": lambda: layers.TokenEmbedding(40, 8, mask_zero=True),
}


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", sorted(LAYER_FACTORIES))
def test_config_round_trips(name):
    layer = LAYER_FACTORIES[name]()
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()


POSITIVE = "a positive integer"


@pytest.mark.backend_independent
@pytest.mark.parametrize("make, argument, allowed", [
    (lambda: layers.AdditiveAttention(units=0), "units", [POSITIVE]),
    (lambda: layers.DotProductAttention(score_mode="cosine"), "score_mode", ["'dot'", "'general'", "'scaled'", "'concat'"]),
    (lambda: layers.DotProductAttention(score_mode="concat"), "units", ["positive integer", "score_mode='concat'"]),
    (lambda: layers.MultiHeadAttention(num_heads=0, key_dim=4), "num_heads", [POSITIVE]),
    (lambda: layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=1.5), "dropout", ["[0, 1)"]),
    (lambda: layers.TransformerEncoderBlock(2, intermediate_dim=-1), "intermediate_dim", [POSITIVE]),
    (lambda: layers.TransformerDecoderBlock(2, 8, attention_dropout=1.0), "attention_dropout", ["[0, 1)"]),
    (lambda: layers.TokenAndPositionEmbedding(10, 5, 4, position_encoding="rotary"), "position_encoding",
     ["'learned'", "'sinusoidal'"]),
    (lambda: layers.AttentionPooling(units="8"), "units", ["a positive integer or None"]),
    (lambda: layers.BahdanauDecoder(16, attention_units=0), "attention_units", [POSITIVE]),
    (lambda: layers.LuongDecoder(16, score_mode="scaled"), "score_mode", ["one of ('dot', 'general', 'concat')"]),
    (lambda: layers.LuongDecoder(16, num_layers=0), "num_layers", [POSITIVE]),
    (lambda: layers.SqueezeExcitation(ratio=0), "ratio", [POSITIVE]),
    (lambda: layers.EfficientChannelAttention(kernel_size=4), "kernel_size", ["odd"]),
    (lambda: layers.EfficientChannelAttention(b="oops"), "b", ["a number in (-inf, inf)"]),
    (lambda: layers.CBAM(kernel_size=0), "kernel_size", [POSITIVE]),
    (lambda: layers.CBAM(kernel_size=6), "kernel_size", ["odd"]),
    (lambda: layers.PatchEmbedding((4, 0), 8), "patch_size[1]", [POSITIVE]),
    (lambda: layers.PatchEmbedding(16.0, 8), "patch_size[0]", [POSITIVE]),
    (lambda: layers.PatchEmbedding(True, 8), "patch_size[0]", [POSITIVE]),
    (lambda: layers.PatchEmbedding((4, 4, 4), 8), "patch_size", ["an int or a pair of ints"]),
    (lambda: layers.PositionEmbedding2D(7, num_prefix_tokens=-1), "num_prefix_tokens", [">= 0"]),
    (lambda: layers.TransformerEncoderBlock(2, 8, layer_norm_epsilon=-1.0), "layer_norm_epsilon", ["(0, inf)"]),
])
def test_bad_arguments_name_the_argument(make, argument, allowed):
    """The message names the argument and what it may be; its wording is free."""
    with raises_mentioning(f"`{argument}`", *allowed):
        make()


@pytest.mark.backend_independent
def test_shape_errors_are_clear(rng):
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    memory = random(rng, 1, 5, 8)
    mha(random(rng, 1, 3, 8), memory)  # builds the projections
    with raises_mentioning("`value`", "`cache`"):
        mha(random(rng, 1, 3, 8), None)
    memory = mha.project_key_value(memory)
    with raises_mentioning("`key`", "`value`", "`value=None`"):
        mha(random(rng, 1, 3, 8), None, random(rng, 1, 5, 8), cache=memory)
    with raises_mentioning("width 30", "patch size 4"):
        layers.PatchEmbedding(4, 8)(random(rng, 1, 28, 30, 1))
    with raises_mentioning("rank 4", "(1, 5, 8)"):
        layers.CBAM(ratio=2)(random(rng, 1, 5, 8))
    with raises_mentioning("num_layers=2", "4 initial states", "received 1"):
        layers.LuongDecoder(4, num_layers=2)(random(rng, 1, 2, 3), random(rng, 1, 3, 4), initial_state=[random(rng, 1, 4)])
    with raises_mentioning("score_mode='dot'", "query width 4", "key width 6"):
        layers.DotProductAttention("dot")(random(rng, 1, 2, 4), random(rng, 1, 3, 6))
    with raises_mentioning("(batch, T, d)", "(1, 3, 3, 4)"):
        layers.AttentionPooling()(random(rng, 1, 3, 3, 4))
    with raises_mentioning("width 8", "num_heads=3", "`key_dim`"):
        layers.TransformerEncoderBlock(3, 8)(random(rng, 1, 2, 8))
    with raises_mentioning("`attention_mask`", "(1, 2, 2)", "(2, 2)"):
        layers.MultiHeadAttention(1, 2)(random(rng, 1, 2, 4), random(rng, 1, 2, 4), attention_mask=np.ones((2, 2), bool))


@pytest.mark.parametrize("make", [
    lambda: layers.MultiHeadAttention(2, 4), lambda: layers.AdditiveAttention(4), lambda: layers.DotProductAttention("general"),
], ids=["multi_head", "additive", "luong_general"])
def test_sequence_and_mask_shape_errors_name_the_argument_and_the_shapes(rng, make):
    query, value = random(rng, 2, 3, 8), random(rng, 2, 5, 8)
    with raises_mentioning("`query`", "(batch, length, features)", "(2, 8)"):
        make()(random(rng, 2, 8), value)
    with raises_mentioning("`key`", "`value`", "same length", "value (2, 5, 8)", "key (2, 4, 8)"):
        make()(query, value, random(rng, 2, 4, 8))
    with raises_mentioning("`query`", "`value`", "batch size", "query (2, 3, 8)", "value (3, 5, 8)"):
        make()(query, random(rng, 3, 5, 8))
    for name, mask, expected in [
        ("query_mask", np.ones((2, 4), bool), (2, 3)),
        ("value_mask", np.ones((2, 4), bool), (2, 5)),
        ("attention_mask", np.ones((2, 3, 4), bool), (2, 3, 5)),
    ]:
        with raises_mentioning(f"`{name}`", str(expected), str(mask.shape)):
            make()(query, value, **{name: mask})
    layer, allowed = make(), rng.random((1, 3, 5)) < 0.7  # a batch size of 1 broadcasts over the batch
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(query, value, attention_mask=allowed)),
        keras.ops.convert_to_numpy(layer(query, value, attention_mask=np.repeat(allowed, 2, axis=0))), rtol=1e-6, atol=1e-6)


QUERY_VALUE = {"query_shape": (2, 5, 8), "value_shape": (2, 6, 8)}
INPUTS_MEMORY = {"inputs_shape": (2, 5, 8), "memory_shape": (2, 6, 8)}
# Every public layer: (class, arguments, `input_shape` or `input_data`, output shape). Keras' harness cannot feed a
# dict of inputs to its training check (it calls the layer with one argument): those layers go without it, as
# Keras' own MultiHeadAttention test does.
HARNESS_CASES = {
    "additive": (layers.AdditiveAttention, {"units": 6}, {"input_shape": QUERY_VALUE}, (2, 5, 8)),
    "luong_general": (layers.DotProductAttention, {"score_mode": "general"}, {"input_shape": QUERY_VALUE}, (2, 5, 8)),
    "luong_concat": (layers.DotProductAttention, {"score_mode": "concat", "units": 6}, {"input_shape": QUERY_VALUE}, (2, 5, 8)),
    "multi_head": (layers.MultiHeadAttention, {"num_heads": 2, "key_dim": 4}, {"input_shape": QUERY_VALUE}, (2, 5, 8)),
    "pooling": (layers.AttentionPooling, {}, {"input_shape": (2, 5, 8)}, (2, 8)),
    "se": (layers.SqueezeExcitation, {"ratio": 2}, {"input_shape": (2, 6, 6, 8)}, (2, 6, 6, 8)),
    "eca": (layers.EfficientChannelAttention, {}, {"input_shape": (2, 6, 6, 8)}, (2, 6, 6, 8)),
    "cbam": (layers.CBAM, {"ratio": 2}, {"input_shape": (2, 6, 6, 8)}, (2, 6, 6, 8)),
    "bahdanau_decoder": (layers.BahdanauDecoder, {"units": 6}, {"input_shape": INPUTS_MEMORY}, (2, 5, 6 + 8 + 8)),  # [s; c; y]
    "luong_decoder": (layers.LuongDecoder, {"units": 6}, {"input_shape": INPUTS_MEMORY}, (2, 5, 6)),
    "encoder_block": (layers.TransformerEncoderBlock, {"num_heads": 2, "intermediate_dim": 16}, {"input_shape": (2, 5, 8)}, (2, 5, 8)),
    "linformer": (layers.LinformerAttention, {"num_heads": 2, "key_dim": 4, "max_length": 8, "projected_length": 3}, {"input_shape": QUERY_VALUE}, (2, 5, 8)),
    "sliding_window": (layers.SlidingWindowAttention, {"num_heads": 2, "key_dim": 4, "window": 2}, {"input_shape": {"query_shape": (2, 6, 8), "value_shape": (2, 6, 8)}}, (2, 6, 8)),
    "performer": (layers.PerformerAttention, {"num_heads": 2, "key_dim": 4, "num_features": 8}, {"input_shape": QUERY_VALUE}, (2, 5, 8)),
    "window_encoder_block": (
        layers.TransformerEncoderBlock, {"num_heads": 2, "intermediate_dim": 16, "attention": "window", "attention_options": {"window": 2}},
        {"input_shape": (2, 5, 8)}, (2, 5, 8),
    ),
    "decoder_block": (layers.TransformerDecoderBlock, {"num_heads": 2, "intermediate_dim": 16}, {"input_shape": INPUTS_MEMORY}, (2, 5, 8)),
    "sinusoidal": (layers.SinusoidalPositionEncoding, {}, {"input_shape": (2, 5, 8)}, (2, 5, 8)),
    "position": (layers.PositionEmbedding, {"sequence_length": 8}, {"input_shape": (2, 5, 8)}, (2, 5, 8)),
    "token": (layers.TokenEmbedding, {"input_dim": 50, "output_dim": 8}, {"input_data": "ids"}, (2, 5, 8)),
    "token_and_position": (
        layers.TokenAndPositionEmbedding, {"vocabulary_size": 50, "sequence_length": 8, "embedding_dim": 8}, {"input_data": "ids"}, (2, 5, 8),
    ),
    "patches": (layers.PatchEmbedding, {"patch_size": 2, "hidden_dim": 8}, {"input_shape": (2, 6, 6, 3)}, (2, 9, 8)),
    "class_token": (layers.ClassToken, {}, {"input_shape": (2, 5, 8)}, (2, 6, 8)),
    "position_2d": (layers.PositionEmbedding2D, {"grid_size": (3, 3)}, {"input_shape": (2, 10, 8)}, (2, 10, 8)),
}


@pytest.mark.parametrize("name", HARNESS_CASES)
def test_keras_layer_harness_passes_mixed_precision_included(name, rng):
    """Keras' own layer test (`run_layer_test`, which Keras runs on its layers): build, serialization, eager and
    symbolic calls, a training step, and `mixed_float16`, whose symbolic output dtype must be the eager one."""
    from keras.src.testing import TestCase  # the harness is not public API

    layer_class, arguments, inputs, output_shape = HARNESS_CASES[name]
    if inputs.get("input_data") == "ids":
        inputs = {"input_data": rng.integers(0, 50, size=(2, 5)).astype("int32")}
    TestCase().run_layer_test(
        layer_class, init_kwargs=arguments, expected_output_shape=output_shape, supports_masking=None,
        run_training_check=not isinstance(inputs.get("input_shape"), dict), **inputs,
    )
