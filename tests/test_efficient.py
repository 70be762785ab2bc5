"""Efficient attention (layers/efficient.py) against NumPy written from the papers' equations, on fresh random data:
Linformer (Wang et al. 2020, Eq. 7), sliding windows (full attention under the band mask), Performer (Choromanski et
al. 2021, Lemma 1, and its approximation of softmax attention)."""

import keras
import numpy as np
import pytest

import numpy_reference as ref
from error_messages import raises_mentioning
from layers import TransformerEncoderBlock
from layers.transformer import encoder_stack
from layers.efficient import (
    LinformerAttention, PerformerAttention, SlidingWindowAttention, orthogonal_random_features, window_weights_as_matrix,
)

WIDTH, HEADS, KEY_DIM = 12, 3, 4


def sequences(rng, batch=2, length=11):
    """A query and a value sequence `(batch, length, WIDTH)`, and random right padding of each."""
    query, value = (rng.normal(size=(batch, length, WIDTH)).astype("float32") for _ in range(2))
    return query, value, ref.random_padding_mask(rng, batch, length), ref.random_padding_mask(rng, batch, length)


def numpy_of(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("sharing", ["none", "headwise", "key_value"])
def test_linformer_computes_the_papers_projected_attention(sharing, rng):
    query, value, query_mask, value_mask = sequences(rng)
    layer = LinformerAttention(HEADS, KEY_DIM, max_length=16, projected_length=5, sharing=sharing)
    output = layer(query, value, query_mask=query_mask, value_mask=value_mask)
    weights = layer.get_weights()
    projections = [np.broadcast_to(p, (HEADS, 5, 16)) for p in weights[8:]]
    key_projection, value_projection = projections if len(projections) == 2 else projections * 2
    expected = ref.linformer(query, value, value, weights[:8], key_projection, value_projection, query_mask, value_mask)
    np.testing.assert_allclose(numpy_of(output), expected, rtol=1e-5, atol=1e-5)
    assert len(weights) == 8 + (1 if sharing == "key_value" else 2)


def test_linformer_layerwise_projects_keys_and_values_by_the_projection_it_is_given(rng):
    query, value, query_mask, value_mask = sequences(rng)
    layer = LinformerAttention(HEADS, KEY_DIM, max_length=16, projected_length=5, sharing="layerwise")
    projection = rng.normal(size=(5, 16)).astype("float32")
    output = layer(query, value, query_mask=query_mask, value_mask=value_mask, shared_projection=projection)
    weights = layer.get_weights()
    assert len(weights) == 8  # the projection is the model's, not the layer's
    heads = np.broadcast_to(projection, (HEADS, 5, 16))
    expected = ref.linformer(query, value, value, weights, heads, heads, query_mask, value_mask)
    np.testing.assert_allclose(numpy_of(output), expected, rtol=1e-5, atol=1e-5)


def test_layerwise_sharing_gives_every_block_of_a_model_one_projection(rng, tmp_path):
    """Wang et al. 2020, Section 4: one E = F for all layers. The model equals one whose blocks share E = F within
    each block (`sharing="key_value"`) holding copies of that E, and keeps the one E through a .keras file."""
    def model(sharing):
        inputs = keras.Input((10, WIDTH))
        options = {"projected_length": 4, "sharing": sharing}
        return keras.Model(inputs, encoder_stack(inputs, 3, HEADS, 16, sequence_length=10, attention="linformer", attention_options=options))

    shared, separate = model("layerwise"), model("key_value")
    projections = [w for w in shared.weights if "projection" in w.path]
    assert [w.path for w in projections] == ["linformer_projection/projection"]
    assert separate.count_params() - shared.count_params() == 2 * 4 * 10
    projection = projections[0].numpy()
    for index in range(3):
        block = shared.get_layer(f"encoder_{index}").get_weights()
        separate.get_layer(f"encoder_{index}").set_weights(block[:8] + [projection] + block[8:])
    x = rng.normal(size=(2, 10, WIDTH)).astype("float32")
    np.testing.assert_allclose(numpy_of(shared(x)), numpy_of(separate(x)), rtol=1e-5, atol=1e-5)
    shared.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert [w.path for w in loaded.weights if "projection" in w.path] == ["linformer_projection/projection"]
    np.testing.assert_allclose(numpy_of(loaded(x)), numpy_of(shared(x)), rtol=1e-6, atol=1e-6)


def test_linformer_outputs_do_not_depend_on_padding(rng):
    """Padded keys are zeroed before the projection: the real steps of a padded sequence get the outputs of the
    sequence without its padding, whatever the padding holds."""
    layer = LinformerAttention(HEADS, KEY_DIM, max_length=20, projected_length=6)
    real = rng.normal(size=(1, 7, WIDTH)).astype("float32")
    padded = np.concatenate([real, rng.normal(size=(1, 5, WIDTH)).astype("float32") * 100], axis=1)
    mask = np.arange(12)[None] < 7
    alone = layer(real, real)
    with_padding = layer(padded, padded, query_mask=mask, value_mask=mask)
    np.testing.assert_allclose(numpy_of(with_padding)[:, :7], numpy_of(alone), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window, length, block_size", [
    (3, 11, 128), (4, 8, 128), (1, 9, 128), (16, 10, 128), (5, 13, 2), (7, 12, 3), (3, 45, 2), (4, 70, 3),
])
def test_sliding_window_equals_full_attention_under_the_band_mask(window, length, block_size, causal, rng):
    """Blocks of the window's size, and blocks smaller than it (a block then reaches several blocks on each side);
    the last two lengths span several chunks of `CHUNK_BLOCKS` blocks on the path without weights."""
    query, value, query_mask, value_mask = sequences(rng, length=length)
    layer = SlidingWindowAttention(HEADS, KEY_DIM, window=window, block_size=block_size)
    options = {"query_mask": query_mask, "value_mask": query_mask, "use_causal_mask": causal}
    output, weights = layer(query, query, return_attention_scores=True, **options)
    mask = ref.full_mask(2, length, length, query_mask, query_mask) & ref.band_mask(length, window, causal)[None]
    expected, expected_weights = ref.multi_head(query, query, query, layer.get_weights(), mask)
    np.testing.assert_allclose(numpy_of(output), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(numpy_of(layer(query, query, **options)), expected, rtol=1e-5, atol=1e-5)
    assert weights.shape == (2, HEADS, length, 2 * window + 1)
    np.testing.assert_allclose(window_weights_as_matrix(numpy_of(weights)), expected_weights, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_sliding_window_attention_dropout_is_unbiased_and_only_in_training(causal, rng):
    """Attention dropout (rate p) on a sequence of several chunks: inference gives full attention under the band mask;
    training drops weights and scales the kept ones by 1 / (1 - p), so each training output differs from it and their
    mean over 256 independent draws (the batch's copies) is it, within 6 standard errors of that mean."""
    copies, length, window = 256, 70, int(rng.integers(2, 6))
    query = np.repeat(rng.normal(size=(1, length, WIDTH)).astype("float32"), copies, axis=0)
    query_mask = np.repeat(np.arange(length)[None] < rng.integers(40, length), copies, axis=0)
    layer = SlidingWindowAttention(HEADS, KEY_DIM, window=window, block_size=3, dropout=0.5)
    options = {"query_mask": query_mask, "value_mask": query_mask, "use_causal_mask": causal}
    inference = numpy_of(layer(query, query, **options))
    mask = ref.full_mask(1, length, length, query_mask[:1], query_mask[:1]) & ref.band_mask(length, window, causal)[None]
    expected, _ = ref.multi_head(query[:1], query[:1], query[:1], layer.get_weights(), mask)
    np.testing.assert_allclose(inference, np.repeat(expected, copies, axis=0), rtol=1e-5, atol=1e-5)
    trained = numpy_of(layer(query, query, training=True, **options))
    real = query_mask[0]
    assert np.all(np.abs(trained - expected)[:, real].max(axis=(1, 2)) > 1e-3)  # every draw drops something
    standard_error = trained.std(axis=0, ddof=1) / np.sqrt(copies)
    assert np.all(np.abs(trained.mean(axis=0) - expected[0]) <= 6 * standard_error + 1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_sliding_window_trains_as_keras_multi_head_attention_with_its_band(causal, rng):
    """One SGD step on sequences of several chunks, with padding: the chunked path, whose gradient recomputes each
    chunk's scores, moves every weight as Keras' layer under the same band (`sliding_window=w + 1`, a dense mask),
    from weights of scale 0.5 (with Keras' initial ones the query and key kernels move by 1e-7)."""
    window, length = int(rng.integers(1, 5)), 53
    ids = rng.integers(1, 30, size=(2, length))
    ids[1, int(rng.integers(20, 45)):] = 0
    targets = rng.normal(size=(2, length, WIDTH)).astype("float32")

    def trained(attention):
        inputs = keras.Input((length,), dtype="int32")
        embedded = keras.layers.Embedding(30, WIDTH, mask_zero=True)(inputs)
        model = keras.Model(inputs, attention(embedded, embedded, use_causal_mask=causal))
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        return model

    ours = trained(SlidingWindowAttention(HEADS, KEY_DIM, window=window, block_size=2))
    theirs = trained(keras.layers.MultiHeadAttention(HEADS, KEY_DIM, sliding_window=window + 1))
    initial = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in ours.get_weights()]  # peaked weights
    for model in (ours, theirs):
        model.set_weights(initial)
        model.train_on_batch(ids, targets)
    for start, mine, keras_weight in zip(initial, ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine - start, keras_weight - start, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_performer_computes_favor_plus_features_of_lemma_1(causal, rng):
    query, value, query_mask, value_mask = sequences(rng)
    if causal:
        value, value_mask = query, query_mask
    layer = PerformerAttention(HEADS, KEY_DIM, num_features=16, seed=int(rng.integers(1 << 30)))
    output = layer(query, value, query_mask=query_mask, value_mask=value_mask, use_causal_mask=causal)
    weights = layer.get_weights()
    expected = ref.favor_plus(query, value, value, weights[:8], weights[8], query_mask, value_mask, causal)
    np.testing.assert_allclose(numpy_of(output), expected, rtol=1e-5, atol=1e-5)


def test_performer_features_are_orthogonal_gaussian_rows(rng):
    layer = PerformerAttention(HEADS, KEY_DIM, num_features=10, seed=int(rng.integers(1 << 30)))
    layer.build((None, None, WIDTH), (None, None, WIDTH))
    features = numpy_of(layer.random_features)
    for block in (features[0:4], features[4:8], features[8:10]):  # blocks of key_dim rows
        gram = block @ block.T
        np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-4)


def test_performer_features_are_marginally_standard_normal(rng):
    """Lemma 1 needs w ~ N(0, I): 4096 rows of width 4 average 0 and have covariance I (within 5 standard errors)."""
    features = numpy_of(orthogonal_random_features(4096, 4, int(rng.integers(1 << 30))))
    assert np.abs(features.mean(axis=0)).max() < 5 / np.sqrt(4096)
    assert np.abs(np.cov(features.T) - np.eye(4)).max() < 5 * np.sqrt(2 / 4096)


def test_performer_error_against_softmax_attention_falls_as_features_grow(rng):
    """FAVOR+ is unbiased with variance falling as 1/m (Choromanski et al. 2021, Lemma 2): the mean relative error
    against exact softmax attention over 6 draws of features and data is smaller at each step of m = 8, 64, 512.
    The inputs are scaled to projections of moderate norm: the variance grows as exp(|q + k|^2 / sqrt(d)), and at
    twice this scale the mean error still stood near 0.2 at m = 4096 (measured)."""
    errors = {m: [] for m in (8, 64, 512)}
    for _ in range(6):
        query, value, query_mask, value_mask = sequences(rng, batch=1, length=20)
        query, value = query / 2, value / 2
        for m in errors:
            layer = PerformerAttention(HEADS, KEY_DIM, num_features=m, seed=int(rng.integers(1 << 30)))
            output = numpy_of(layer(query, value, value_mask=value_mask))
            exact, _ = ref.multi_head(query, value, value, layer.get_weights()[:8], ref.full_mask(1, 20, 20, value_mask=value_mask))
            errors[m].append(np.linalg.norm(output - exact) / np.linalg.norm(exact))
    means = [np.mean(errors[m]) for m in sorted(errors)]
    assert means[0] > means[1] > means[2], means
    assert means[2] < 0.5 * means[0], means


@pytest.mark.parametrize("make_layer", [
    lambda: SlidingWindowAttention(HEADS, KEY_DIM, window=3),
    lambda: PerformerAttention(HEADS, KEY_DIM, num_features=32, seed=3),
], ids=["window", "performer"])
def test_causal_outputs_never_depend_on_later_steps(make_layer, rng):
    layer = make_layer()
    x = rng.normal(size=(2, 12, WIDTH)).astype("float32")
    changed = x.copy()
    changed[:, 7:] = rng.normal(size=(2, 5, WIDTH)) * 10
    before, after = (numpy_of(layer(y, y, use_causal_mask=True)) for y in (x, changed))
    np.testing.assert_allclose(after[:, :7], before[:, :7], rtol=1e-5, atol=1e-6)
    assert not np.allclose(after[:, 7:], before[:, 7:])


LAYERS = {
    "linformer": lambda **options: LinformerAttention(HEADS, KEY_DIM, max_length=16, projected_length=4, sharing="headwise", **options),
    "window": lambda **options: SlidingWindowAttention(HEADS, KEY_DIM, window=2, **options),
    "performer": lambda **options: PerformerAttention(HEADS, KEY_DIM, num_features=8, seed=5, **options),
}


@pytest.mark.parametrize("name", LAYERS)
def test_implicit_masks_are_the_explicit_ones(name, rng):
    ids = rng.integers(1, 30, size=(2, 9))
    ids[0, 5:] = 0
    embedded = keras.layers.Embedding(30, WIDTH, mask_zero=True)(ids)
    layer = LAYERS[name]()
    implicit = layer(embedded, embedded)
    mask = ids != 0
    explicit = layer(embedded, embedded, query_mask=mask, value_mask=mask)
    np.testing.assert_allclose(numpy_of(implicit), numpy_of(explicit), rtol=1e-6, atol=1e-6)
    without = layer(keras.ops.convert_to_tensor(numpy_of(embedded)), keras.ops.convert_to_tensor(numpy_of(embedded)))
    assert not np.allclose(numpy_of(without)[0], numpy_of(explicit)[0], atol=1e-4)


@pytest.mark.parametrize("name", LAYERS)
def test_round_trip_through_a_keras_file(name, rng, tmp_path):
    inputs = keras.Input((10, WIDTH))
    model = keras.Model(inputs, LAYERS[name]()(inputs, inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    x = rng.normal(size=(2, 10, WIDTH)).astype("float32")
    np.testing.assert_allclose(numpy_of(keras.saving.load_model(path)(x)), numpy_of(model(x)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_sixteen_bit_policies_stay_finite_and_near_float32(name, policy, rng):
    """Near float32 on inputs of unit scale; finite on inputs 30 times larger, whose logits (up to ~1e3) put
    float16's masking constant and the Performer's exponentials to the test (logits beyond float16's 65504 overflow
    in the scores' einsum here as in `MultiHeadAttention`)."""
    mask = np.arange(16)[None] < np.array([[16], [9]])
    exact, mixed = LAYERS[name](), LAYERS[name](dtype=policy)
    for scale, compared in ((1.0, True), (30.0, False)):
        x = (rng.normal(size=(2, 16, WIDTH)) * scale).astype("float32")
        if not mixed.built:
            exact(x, x), mixed(x, x)
            mixed.set_weights(exact.get_weights())
        exact_output, mixed_output = (numpy_of(layer(x, x, query_mask=mask, value_mask=mask)).astype("float32") for layer in (exact, mixed))
        assert np.isfinite(mixed_output).all()
        if compared:
            tolerance = 0.05 if policy == "mixed_bfloat16" else 0.01
            assert np.abs(mixed_output - exact_output).max() < tolerance * np.abs(exact_output).max()


@pytest.mark.backend_independent
@pytest.mark.parametrize("make_call, mentioned", [
    (lambda x: LinformerAttention(2, 4, max_length=16)(x, x, use_causal_mask=True), ("LinformerAttention", "causal", "later")),
    (lambda x: LinformerAttention(2, 4, max_length=8)(x, x), ("max_length=8", "received 10")),
    (lambda x: SlidingWindowAttention(2, 4, window=2)(x, x, attention_mask=np.ones((1, 10, 10), bool)), ("attention_mask", "n^2")),
    (lambda x: SlidingWindowAttention(2, 4, window=2)(x[:, :6], x), ("same length", "6 queries and 10 keys")),
    (lambda x: PerformerAttention(2, 4, dropout=0.1), ("`dropout` must be 0", "no attention dropout", "dropout=0.1")),
    (lambda x: LinformerAttention(2, 4, max_length=16, sharing="layers"), ("`sharing`", "'headwise'", "'layers'")),
    (lambda x: SlidingWindowAttention(2, 4, window=0), ("`window`", "positive integer")),
    (lambda x: PerformerAttention(2, 4, num_features=0), ("`num_features`", "positive integer")),
    (lambda x: LinformerAttention(2, 4, max_length=16).project_key_value(x), ("no key/value cache",)),
    (lambda x: LinformerAttention(2, 4, max_length=16, sharing="layerwise")(x, x), ("shared_projection=E", "(256, 16)", "LinformerProjection(16, 256)")),
    (lambda x: LinformerAttention(2, 4, max_length=16)(x, x, shared_projection=np.zeros((256, 16), "float32")), ("own weights", '"layerwise"')),
    (
        lambda x: LinformerAttention(2, 4, max_length=16, projected_length=4, sharing="layerwise")(x, x, shared_projection=np.zeros((5, 16), "float32")),
        ("(projected_length, max_length) = (4, 16)", "received (5, 16)"),
    ),
])
def test_what_an_efficient_layer_cannot_do_is_refused_with_what_it_can(make_call, mentioned):
    x = np.zeros((1, 10, 8), "float32")
    with raises_mentioning(*mentioned):
        make_call(x)


def test_performer_redraws_its_features_in_training_only_when_asked(rng):
    x = rng.normal(size=(1, 6, WIDTH)).astype("float32")
    fixed = PerformerAttention(HEADS, KEY_DIM, num_features=8, seed=1)
    redrawing = PerformerAttention(HEADS, KEY_DIM, num_features=8, seed=1, redraw_features=True)
    fixed(x, x), redrawing(x, x)
    redrawing.set_weights(fixed.get_weights())
    first, second = (numpy_of(redrawing(x, x, training=True)) for _ in range(2))
    assert not np.allclose(first, second)
    np.testing.assert_allclose(numpy_of(redrawing(x, x, training=False)), numpy_of(fixed(x, x, training=True)), rtol=1e-6)


def test_an_encoder_block_with_a_window_covering_the_sequence_is_the_full_block(rng):
    x = rng.normal(size=(2, 9, WIDTH)).astype("float32")
    mask = ref.random_padding_mask(rng, 2, 9)
    full = TransformerEncoderBlock(HEADS, 16)
    local = TransformerEncoderBlock(HEADS, 16, attention="window", attention_options={"window": 8})
    full(x), local(x)
    local.set_weights(full.get_weights())
    for causal in (False, True):
        np.testing.assert_allclose(
            numpy_of(local(x, mask=mask, use_causal_mask=causal)), numpy_of(full(x, mask=mask, use_causal_mask=causal)), rtol=1e-5, atol=1e-5
        )
    narrow = TransformerEncoderBlock(HEADS, 16, attention="window", attention_options={"window": 2})
    narrow(x)
    narrow.set_weights(full.get_weights())
    assert not np.allclose(numpy_of(narrow(x)), numpy_of(full(x)), atol=1e-3)


@pytest.mark.parametrize("attention, options", [
    ("linformer", {"max_length": 12, "projected_length": 4, "sharing": "key_value"}),
    ("window", {"window": 2}),
    ("performer", {"num_features": 8, "seed": 2}),
])
def test_an_encoder_block_keeps_its_attention_through_a_keras_file(attention, options, rng, tmp_path):
    inputs = keras.Input((12, WIDTH))
    block = TransformerEncoderBlock(HEADS, 16, attention=attention, attention_options=options)
    model = keras.Model(inputs, block(inputs))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    x = rng.normal(size=(2, 12, WIDTH)).astype("float32")
    np.testing.assert_allclose(numpy_of(loaded(x)), numpy_of(model(x)), rtol=1e-6, atol=1e-6)
    assert type(loaded.layers[-1].attention) is type(block.attention)


@pytest.mark.backend_independent
@pytest.mark.parametrize("arguments, mentioned", [
    ({"attention": "local"}, ("`attention`", "'window'", "'local'")),
    ({"attention": "linformer"}, ("missing options ['max_length']", "attention='linformer' takes", "'projected_length'")),
    ({"attention": "window", "attention_options": {"windw": 3}}, ("unknown options ['windw']", "takes ['window', 'block_size']")),
    ({"attention_options": {"window": 3}}, ("unknown options ['window']", "attention='full' takes no options")),
    ({"attention": "window", "attention_options": 3}, ("`attention_options` must be a dict", "received 3")),
    ({"attention": "performer", "attention_dropout": 0.1}, ("no `attention_dropout`", "never forms the attention weights", "received attention_dropout=0.1")),
])
def test_an_encoder_block_refuses_attention_it_cannot_build(arguments, mentioned):
    """When the block is made, not when it first runs, in the block's argument names."""
    with raises_mentioning(*mentioned):
        TransformerEncoderBlock(HEADS, 16, **arguments)


@pytest.mark.parametrize("causal", [False, True])
def test_sliding_window_equals_keras_multi_head_attention_with_its_sliding_window(causal, rng):
    """Keras 3.15's `MultiHeadAttention(sliding_window=s)` attends within s - 1 positions as a dense mask: with
    s = w + 1 and the same weights, the same numbers."""
    x = rng.normal(size=(2, 13, WIDTH)).astype("float32")
    window = int(rng.integers(1, 6))
    ours = SlidingWindowAttention(HEADS, KEY_DIM, window=window)
    theirs = keras.layers.MultiHeadAttention(HEADS, KEY_DIM, sliding_window=window + 1)
    ours(x, x), theirs(x, x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(
        numpy_of(ours(x, x, use_causal_mask=causal)), numpy_of(theirs(x, x, use_causal_mask=causal)), rtol=1e-5, atol=1e-5
    )
