"""`zoo.attention_maps`: the weights it collects are those each layer returns on its own inputs."""

import keras
import numpy as np
import pytest

import zoo


def layer_inputs(model, layer, inputs):
    """The features `layer` receives inside `model` for `inputs` (its first input; masks are
    passed separately), computed by a sub-model, independently of the walk."""
    features = layer.input[0] if isinstance(layer.input, (list, tuple)) else layer.input
    return keras.Model(model.inputs, features).predict(inputs, verbose=0)


def test_text_transformer_self_attention_per_layer(rng):
    model = zoo.build("transformer_classifier_tiny", vocab_size=50, sequence_length=10, num_layers=2)
    tokens = rng.integers(1, 50, size=(3, 10))
    tokens[0, 6:] = 0  # padding
    logits, maps = zoo.attention_maps(model, tokens)
    np.testing.assert_allclose(logits, model.predict(tokens, verbose=0), atol=1e-6)
    assert sorted(maps) == ["encoder_0", "encoder_1"]
    for name in maps:
        layer = model.get_layer(name)
        _, expected = layer(layer_inputs(model, layer, tokens), mask=tokens != 0, return_attention_scores=True)
        np.testing.assert_allclose(maps[name], keras.ops.convert_to_numpy(expected), atol=1e-5)
    first = maps["encoder_0"]
    assert first.shape == (3, 2, 10, 10)
    np.testing.assert_allclose(first[0, :, :6].sum(-1), 1.0, atol=1e-5)
    assert np.all(first[0, :, :, 6:] == 0)  # no weight on padding


def test_attention_pooling_weights_of_the_bilstm(rng):
    model = zoo.build("bilstm_attention", vocab_size=40, embedding_dim=8, lstm_units=8)
    tokens = rng.integers(1, 40, size=(2, 7))
    tokens[1, 4:] = 0
    _, maps = zoo.attention_maps(model, tokens)
    layer = model.get_layer("attention_pooling")
    _, expected = layer(layer_inputs(model, layer, tokens), mask=tokens != 0, return_attention_scores=True)
    np.testing.assert_allclose(maps["attention_pooling"], keras.ops.convert_to_numpy(expected), atol=1e-6)
    np.testing.assert_allclose(maps["attention_pooling"].sum(-1), 1.0, atol=1e-6)
    assert np.all(maps["attention_pooling"][1, 4:] == 0)


def test_cbam_maps_inside_a_nested_model(rng):
    classifier = zoo.build("cbam_resnet20", depth=8, input_shape=(12, 12, 1), num_classes=3)
    pixels = keras.Input((12, 12, 1))
    model = keras.Model(pixels, classifier(keras.layers.Rescaling(1 / 255)(pixels)))
    images = rng.uniform(0, 255, size=(2, 12, 12, 1)).astype("float32")
    logits, maps = zoo.attention_maps(model, images)
    np.testing.assert_allclose(logits, model.predict(images, verbose=0), atol=1e-5)
    assert len(maps) == 3  # one CBAM per residual block
    layer = classifier.get_layer("stage2_block1_cbam")
    _, channel, spatial = layer(layer_inputs(classifier, layer, images / 255), return_attention_scores=True)
    np.testing.assert_allclose(maps[layer.name][0], keras.ops.convert_to_numpy(channel), atol=1e-5)
    np.testing.assert_allclose(maps[layer.name][1], keras.ops.convert_to_numpy(spatial), atol=1e-5)
    assert maps[layer.name][1].shape == (2, 6, 6)


@pytest.mark.parametrize("name", ["transformer_tiny", "seq2seq_bahdanau"])
def test_translation_cross_attention(rng, name):
    small = {"source_vocab_size": 30, "target_vocab_size": 30}
    model = zoo.build(name, **small)
    inputs = {"source_tokens": rng.integers(1, 30, size=(2, 6)), "target_tokens_in": rng.integers(1, 30, size=(2, 5))}
    inputs["source_tokens"][0, 4:] = 0
    logits, maps = zoo.attention_maps(model, inputs)
    np.testing.assert_allclose(logits, model.predict(inputs, verbose=0), atol=1e-5)
    cross = maps["decoder_0"][1] if name == "transformer_tiny" else maps["decoder"]
    assert cross.shape[-2:] == (5, 6)  # target x source
    np.testing.assert_allclose(cross.sum(-1), 1.0, atol=1e-5)
    assert np.all(cross[0, ..., 4:] == 0)  # source padding gets no weight


def test_attention_rollout_multiplies_the_residual_averaged_layers(rng):
    layers = [rng.dirichlet(np.ones(5), size=(2, 3, 5)) for _ in range(3)]  # 3 layers, batch 2, 3 heads, T=5
    rollout = zoo.attention_rollout(layers)
    assert rollout.shape == (2, 5, 5)
    np.testing.assert_allclose(rollout.sum(-1), 1.0, atol=1e-12)
    for example in range(2):
        expected = np.eye(5)
        for weights in layers:  # Abnar & Zuidema, Eq. 1: A~ = 0.5 W_att + 0.5 I, rolled out layer by layer
            expected = (0.5 * weights[example].mean(0) + 0.5 * np.eye(5)) @ expected
        np.testing.assert_allclose(rollout[example], expected, atol=1e-12)


def test_attention_rollout_checks_its_input():
    with pytest.raises(ValueError, match="holds no layer"):
        zoo.attention_rollout([])
    with pytest.raises(ValueError, match=r"\(batch, heads, T, T\)"):
        zoo.attention_rollout([np.ones((2, 3, 4))])
