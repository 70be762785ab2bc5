"""`zoo.attention_maps`: the weights it collects are those each layer returns on its own inputs, typed by kind."""

import keras
import numpy as np
import pytest

import layers
import zoo
from zoo.inspection import KINDS, returns_attention


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
    np.testing.assert_array_equal(logits, keras.ops.convert_to_numpy(model(tokens, training=False)))
    assert list(maps) == ["encoder_0", "encoder_1", "pooling"]  # mean pooling: class activation maps over the tokens
    assert list(maps["pooling"]) == ["class_activation"]
    for name in ("encoder_0", "encoder_1"):
        assert list(maps[name]) == ["self"]
        layer = model.get_layer(name)
        _, expected = layer(layer_inputs(model, layer, tokens), mask=tokens != 0, return_attention_scores=True)
        np.testing.assert_allclose(maps[name]["self"], keras.ops.convert_to_numpy(expected), atol=1e-5)
    first = maps["encoder_0"]["self"]
    assert first.shape == (3, 2, 10, 10)
    np.testing.assert_allclose(first[0, :, :6].sum(-1), 1.0, atol=1e-5)
    assert np.all(first[0, :, :, 6:] == 0)  # no weight on padding


def test_attention_pooling_weights_of_the_bilstm(rng):
    model = zoo.build("bilstm_attention", vocab_size=40, embedding_dim=8, lstm_units=8)
    tokens = rng.integers(1, 40, size=(2, 7))
    tokens[1, 4:] = 0
    _, maps = zoo.attention_maps(model, tokens)
    assert list(maps) == ["attention_pooling"]
    pooling = maps["attention_pooling"]["pooling"]
    layer = model.get_layer("attention_pooling")
    _, expected = layer(layer_inputs(model, layer, tokens), mask=tokens != 0, return_attention_scores=True)
    np.testing.assert_allclose(pooling, keras.ops.convert_to_numpy(expected), atol=1e-6)
    np.testing.assert_allclose(pooling.sum(-1), 1.0, atol=1e-6)
    assert np.all(pooling[1, 4:] == 0)


def test_cbam_maps_inside_a_nested_model(rng):
    classifier = zoo.build("cbam_resnet20", depth=8, input_shape=(12, 12, 1), num_classes=3)
    pixels = keras.Input((12, 12, 1))
    model = keras.Model(pixels, classifier(keras.layers.Rescaling(1 / 255)(pixels)))
    images = rng.uniform(0, 255, size=(2, 12, 12, 1)).astype("float32")
    logits, maps = zoo.attention_maps(model, images)
    np.testing.assert_array_equal(logits, keras.ops.convert_to_numpy(model(images, training=False)))
    assert list(maps) == [*(f"stage{stage}_block1_cbam" for stage in (1, 2, 3)), "pool"]  # one CBAM per residual block
    layer = classifier.get_layer("stage2_block1_cbam")
    _, channel, spatial = layer(layer_inputs(classifier, layer, images / 255), return_attention_scores=True)
    assert list(maps[layer.name]) == ["channel", "spatial"]
    np.testing.assert_allclose(maps[layer.name]["channel"], keras.ops.convert_to_numpy(channel), atol=1e-5)
    np.testing.assert_allclose(maps[layer.name]["spatial"], keras.ops.convert_to_numpy(spatial), atol=1e-5)
    assert maps[layer.name]["spatial"].shape == (2, 6, 6)


@pytest.mark.parametrize("name", ["transformer_tiny", "seq2seq_bahdanau"])
def test_translation_cross_attention(rng, name):
    small = {"source_vocab_size": 30, "target_vocab_size": 30}
    model = zoo.build(name, **small)
    inputs = {"source_tokens": rng.integers(1, 30, size=(2, 6)), "target_tokens_in": rng.integers(1, 30, size=(2, 5))}
    inputs["source_tokens"][0, 4:] = 0
    logits, maps = zoo.attention_maps(model, inputs)
    np.testing.assert_array_equal(logits, keras.ops.convert_to_numpy(model(inputs, training=False)))
    if name == "transformer_tiny":
        assert {layer: list(kinds) for layer, kinds in maps.items()} == {
            "encoder_0": ["self"], "encoder_1": ["self"], "decoder_0": ["self", "cross"], "decoder_1": ["self", "cross"]
        }
        assert maps["decoder_0"]["self"].shape == (2, 4, 5, 5)
        cross = maps["decoder_0"]["cross"]
    else:
        assert {layer: list(kinds) for layer, kinds in maps.items()} == {"decoder": ["alignment"]}
        cross = maps["decoder"]["alignment"]
    assert cross.shape[-2:] == (5, 6)  # target x source
    np.testing.assert_allclose(cross.sum(-1), 1.0, atol=1e-5)
    assert np.all(cross[0, ..., 4:] == 0)  # source padding gets no weight


class Undeclared(keras.layers.Layer):
    """Another library's layer: it returns weights but declares no kind."""

    def call(self, inputs, return_attention_scores=False):
        weights = keras.ops.softmax(inputs[..., 0])
        return (inputs, weights) if return_attention_scores else inputs


def every_kind_model():
    """A functional model with dict inputs, a nested functional model and one layer of each kind, with
    `{layer name: (kinds, the tensors it is called on)}`."""
    sequence, memory = keras.Input((5, 8), name="sequence"), keras.Input((7, 8), name="memory")
    image_input = keras.Input((6, 6, 4), name="image")
    pixels = keras.Input((6, 6, 4))
    squeezed = layers.SqueezeExcitation(ratio=2, name="se")(pixels)
    efficient = layers.EfficientChannelAttention(name="eca")(squeezed)
    image_model = keras.Model(pixels, layers.CBAM(ratio=2, kernel_size=3, name="cbam")(efficient), name="image_model")
    x = layers.MultiHeadAttention(2, 4, name="mha_self")(sequence, sequence)
    calls = {
        "mha_self": (("self",), (sequence, sequence)),
        "mha_cross": (("cross",), (x, memory)),
        "keras_mha_self": (("self",), (x, x)),
        "keras_mha_cross": (("cross",), (x, memory)),
        "encoder": (("self",), (x,)),
        "decoder": (("self", "cross"), (x, memory)),
        "additive": (("alignment",), (x, memory)),
        "luong": (("alignment",), (x, memory)),
        "bahdanau": (("alignment",), (x, memory)),
        "keras_attention": (("alignment",), ([x, memory],)),
        "pooling": (("pooling",), (x,)),
        "undeclared": (("unknown",), (x,)),
    }
    outputs = [
        layers.MultiHeadAttention(2, 4, name="mha_cross")(x, memory),
        keras.layers.MultiHeadAttention(2, 4, name="keras_mha_self")(x, x),
        keras.layers.MultiHeadAttention(2, 4, name="keras_mha_cross")(x, memory),
        layers.TransformerEncoderBlock(2, 16, name="encoder")(x),
        layers.TransformerDecoderBlock(2, 16, name="decoder")(x, memory),
        layers.AdditiveAttention(4, name="additive")(x, memory),
        layers.DotProductAttention("general", name="luong")(x, memory),
        layers.BahdanauDecoder(6, name="bahdanau")(x, memory),
        keras.layers.Attention(name="keras_attention")([x, memory]),
        layers.AttentionPooling(name="pooling")(x),
        Undeclared(name="undeclared")(x),
        keras.layers.Flatten()(image_model(keras.layers.Rescaling(0.5)(image_input))),
    ]
    model = keras.Model({"sequence": sequence, "memory": memory, "image": image_input}, outputs)
    calls |= {"se": (("channel",), (pixels,)), "eca": (("channel",), (squeezed,)), "cbam": (("channel", "spatial"), (efficient,))}
    return model, image_model, calls


def own_inputs(owner, arguments, owner_inputs):
    """The values of the tensors `arguments` inside the functional model `owner` run on `owner_inputs`."""
    values = keras.Model(owner.input, keras.tree.flatten(arguments))(owner_inputs)
    return keras.tree.pack_sequence_as(arguments, [keras.ops.convert_to_numpy(v) for v in keras.tree.flatten(values)])


def class_activation_reference(model, inputs):
    """Zhou et al. 2016 in NumPy: the features global average pooling receives (a sub-model) times the kernel of
    the `logits` layer."""
    features = layer_inputs(model, model.get_layer("pool"), inputs)
    return np.einsum("...k,kc->...c", features, keras.ops.convert_to_numpy(model.get_layer("logits").kernel))


def test_class_activation_maps_of_a_padded_series_add_up_to_its_logits(rng):
    """SE-FCN behind a preprocessing layer (as the time-series recipe nests it): the maps are the pooled features
    times the classifier's kernel, and each class's map averaged over a series' real steps, plus the bias, is its
    logit; through dropout in a Transformer pooling by the mean too."""
    classifier = zoo.build("se_fcn", num_channels=2, num_classes=3, filters=[8, 8, 8])
    series = keras.Input((None, 2))
    model = keras.Model(series, classifier(keras.layers.Rescaling(0.5)(series)))
    values = rng.normal(size=(2, 30, 2)).astype("float32")
    values[1, 19:] = np.nan
    logits, maps = zoo.attention_maps(model, values)
    activation = maps["pool"]["class_activation"]
    assert activation.shape == (2, 30, 3) and list(maps["pool"]) == ["class_activation"]
    np.testing.assert_allclose(activation[0], class_activation_reference(classifier, values[:1] * 0.5)[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(activation[1, :19], class_activation_reference(classifier, values[1:, :19] * 0.5)[0], rtol=1e-4, atol=1e-5)
    bias = keras.ops.convert_to_numpy(classifier.get_layer("logits").bias)
    for i, length in enumerate([30, 19]):
        np.testing.assert_allclose(activation[i, :length].mean(axis=0) + bias, logits[i], rtol=1e-4, atol=1e-5)

    transformer = zoo.build("series_transformer", num_channels=1, num_classes=2, hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16, pooling="mean")
    logits, maps = zoo.attention_maps(transformer, values[:, :, :1])
    bias = keras.ops.convert_to_numpy(transformer.get_layer("logits").bias)
    np.testing.assert_allclose(maps["pool"]["class_activation"][1, :19].mean(axis=0) + bias, logits[1], rtol=1e-4, atol=1e-5)


def test_class_activation_maps_of_an_image_resnet_are_over_its_last_feature_grid(rng):
    model = zoo.build("resnet20", depth=8, input_shape=(16, 16, 3), num_classes=4)
    images = rng.uniform(0, 1, size=(2, 16, 16, 3)).astype("float32")
    _, maps = zoo.attention_maps(model, images)
    assert list(maps) == ["pool"] and maps["pool"]["class_activation"].shape == (2, 4, 4, 4)
    np.testing.assert_allclose(maps["pool"]["class_activation"], class_activation_reference(model, images), rtol=1e-4, atol=1e-5)


def test_a_hidden_layer_on_pooled_features_gives_no_class_activation_maps(rng):
    """Only a linear `Dense` layer whose output is the model's maps pooled features to classes: not a hidden layer, nor a
    nested model's last layer that feeds the outer model's classifier. A quantized classifier's maps are its own
    (int8: the mean of the maps is the logit up to the rounding of each position's features)."""
    inputs = keras.Input((6, 3))
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(keras.layers.Conv1D(4, 3, padding="same")(inputs))
    hidden = keras.layers.Dense(5, name="hidden")(pooled)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    assert zoo.attention_maps(keras.Model(inputs, keras.layers.Dense(2)(hidden)), x)[1] == {}
    assert zoo.attention_maps(keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled)), x)[1] == {}  # not logits
    backbone = keras.Model(inputs, hidden)
    assert list(zoo.attention_maps(backbone, x)[1]) == ["pool"]
    outer_inputs = keras.Input((6, 3))
    assert zoo.attention_maps(keras.Model(outer_inputs, keras.layers.Dense(2)(backbone(outer_inputs))), x)[1] == {}
    classifier = keras.Model(inputs, keras.layers.Dense(3, name="logits")(pooled))
    classifier.quantize("int8")
    logits, maps = zoo.attention_maps(classifier, x)
    bias = keras.ops.convert_to_numpy(classifier.get_layer("logits").bias)
    np.testing.assert_allclose(maps["pool"]["class_activation"].mean(axis=1) + bias, logits, rtol=0.05, atol=0.05)


def test_each_kind_is_what_the_layer_returns_on_its_own_inputs(rng):
    model, image_model, calls = every_kind_model()
    inputs = {
        "sequence": rng.normal(size=(2, 5, 8)).astype("float32"),
        "memory": rng.normal(size=(2, 7, 8)).astype("float32"),
        "image": rng.uniform(size=(2, 6, 6, 4)).astype("float32"),
    }
    outputs, maps = zoo.attention_maps(model, inputs)
    for output, expected in zip(outputs, model(inputs, training=False), strict=True):
        np.testing.assert_array_equal(output, keras.ops.convert_to_numpy(expected))
    assert {name: tuple(kinds) for name, kinds in maps.items()} == {name: kinds for name, (kinds, _) in calls.items()}
    for name, (kinds, arguments) in calls.items():
        if name in ("se", "eca", "cbam"):  # inside the nested model, behind Rescaling(0.5)
            layer, values = image_model.get_layer(name), own_inputs(image_model, arguments, inputs["image"] * 0.5)
        else:
            layer, values = model.get_layer(name), own_inputs(model, arguments, inputs)
        expected = layer(*values, return_attention_scores=True)[-len(kinds) :]
        for kind, weights in zip(kinds, expected, strict=True):
            np.testing.assert_allclose(maps[name][kind], keras.ops.convert_to_numpy(weights), atol=1e-5, err_msg=f"{name}: {kind}")


def test_every_attention_layer_of_layers_declares_its_kinds():
    for name in layers.__all__:
        layer_class = getattr(layers, name)
        if returns_attention(layer_class):
            declared = layer_class.attention_kinds
            if callable(declared):  # decided per call: MultiHeadAttention, self or cross
                query, memory = keras.ops.ones((1, 2, 4)), keras.ops.ones((1, 3, 4))
                assert declared(None, query, query) == ("self",) and declared(None, query, memory) == ("cross",)
                declared = ("self", "cross")
            assert declared and set(declared) <= set(KINDS), name


def test_a_model_without_attention_gives_its_outputs_and_no_maps(rng):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    x = rng.normal(size=(2, 4)).astype("float32")
    outputs, maps = zoo.attention_maps(model, x)
    assert maps == {}
    np.testing.assert_array_equal(outputs, keras.ops.convert_to_numpy(model(x)))


def test_attention_maps_needs_a_functional_model():
    model = keras.Sequential([keras.Input((5, 8)), layers.AttentionPooling()])
    with pytest.raises(ValueError, match="takes a functional model, keras.Model.inputs, outputs.; received Sequential"):
        zoo.attention_maps(model, np.zeros((1, 5, 8), "float32"))


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
