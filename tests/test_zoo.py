"""The registry: listing, describing, building, clear errors, and `.keras` round trips."""

import json

import keras
import numpy as np
import pytest

import layers
import zoo
from error_messages import raises_mentioning
from recipes.catalog import read_catalog

TRANSFORMER_BLOCKS = (layers.TransformerEncoderBlock, layers.TransformerDecoderBlock)
TEXT_MODELS = [
    "bilstm_attention", "linformer_classifier_small", "performer_classifier_small", "transformer_classifier_small",
    "transformer_classifier_tiny", "window_transformer_classifier_small",
]
EFFICIENT_TEXT_MODELS = ["linformer_classifier_small", "performer_classifier_small", "window_transformer_classifier_small"]
EFFICIENT_VISION_MODELS = ["vit_small_images_linformer", "vit_small_images_performer", "vit_small_images_window"]
TRANSLATION_MODELS = [
    "seq2seq_bahdanau", "seq2seq_luong", "transformer_base", "transformer_big", "transformer_small", "transformer_tiny"
]

VISION_MODELS = [
    "cbam_resnet20", "cbam_resnet50", "eca_resnet20", "eca_resnet50", "resnet20", "resnet50", "resnet56",
    "se_resnet110", "se_resnet20", "se_resnet50", "se_resnet56",
    "vit_base_patch16", "vit_small_images", *EFFICIENT_VISION_MODELS, "vit_small_patch16", "vit_tiny_patch16",
]
TIME_SERIES_MODELS = [
    "eca_fcn", "eca_resnet1d", "resnet1d", "se_fcn", "se_resnet1d", "series_bilstm_attention", "series_linformer",
    "series_performer", "series_transformer", "series_window_transformer",
]
# Round trips the JAX rerun (test_jax_backend.py) leaves out: one model of each builder keeps its round trip there,
# and a model left out differs from it only in OTHER_SETTINGS_SAME_CODE (its attention block's numerics are
# test_layers.py's, on JAX too); test_the_round_trips_left_out_on_jax_repeat_a_builder_kept_there checks that from
# their configurations. On JAX every op of a model's first call compiles (30-50 s for a ResNet).
COVERED_ON_JAX = {
    **dict.fromkeys(["transformer_classifier_small", *EFFICIENT_TEXT_MODELS], "transformer_classifier_tiny"),
    **dict.fromkeys(["resnet20", "resnet56", "se_resnet56", "se_resnet110", "eca_resnet20", "cbam_resnet20"], "se_resnet20"),
    **dict.fromkeys(["se_resnet50", "eca_resnet50", "cbam_resnet50"], "resnet50"),
    **dict.fromkeys(["vit_base_patch16", "vit_small_patch16", "vit_small_images", *EFFICIENT_VISION_MODELS], "vit_tiny_patch16"),
    "eca_fcn": "se_fcn",
    **dict.fromkeys(["resnet1d", "eca_resnet1d"], "se_resnet1d"),
    **dict.fromkeys(["series_linformer", "series_performer", "series_window_transformer"], "series_transformer"),
}
# What a model left out on JAX may set otherwise than the model kept: sizes, input and output shapes, the dropout
# rate (inactive in the round trip), and the attention (a residual block's module with its channel reduction, an
# encoder's efficient attention with its options: test_layers.py's and test_efficient.py's numerics, on JAX too).
OTHER_SETTINGS_SAME_CODE = {
    "depth", "hidden_dim", "num_layers", "num_heads", "intermediate_dim", "patch_size", "input_shape", "num_classes",
    "dropout", "attention", "attention_options", "reduction", "sequence_length",
}


def marking_covered_on_jax(names):
    return [pytest.param(name, marks=pytest.mark.covered_on_jax) if name in COVERED_ON_JAX else name for name in names]


def test_every_model_has_a_round_trip_test():
    assert sorted(TEXT_MODELS + TRANSLATION_MODELS + VISION_MODELS + TIME_SERIES_MODELS) == zoo.list_models()


@pytest.mark.backend_independent
def test_the_round_trips_left_out_on_jax_repeat_a_builder_kept_there():
    for name, kept in COVERED_ON_JAX.items():
        assert kept not in COVERED_ON_JAX, name
        config, other = zoo.default_config(name), zoo.default_config(kept)
        assert config.keys() == other.keys(), f"{name} and {kept} have other builders"
        assert {k for k in config if config[k] != other[k]} <= OTHER_SETTINGS_SAME_CODE, name


@pytest.mark.backend_independent
def test_list_models_filters_by_pattern_and_task():
    assert zoo.list_models(task="text-classification") == TEXT_MODELS
    assert zoo.list_models("transformer_classifier_*") == ["transformer_classifier_small", "transformer_classifier_tiny"]
    assert zoo.list_models(task="translation") == TRANSLATION_MODELS
    assert zoo.list_models(task="image-recognition") == VISION_MODELS
    assert zoo.list_models(task="time-series-classification") == TIME_SERIES_MODELS
    assert zoo.list_models(task="no-such-task") == []


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", TEXT_MODELS)
def test_describe_reports_the_built_model(name):
    description = zoo.describe(name)
    model = zoo.build(name)
    assert description["parameters"] == model.count_params()
    assert description["task"] == "text-classification"
    assert description["defaults"] == zoo.default_config(name)
    assert list(description["inputs"]) == ["token_ids"]
    assert list(description["outputs"]) == ["logits"]


@pytest.mark.backend_independent
def test_the_command_lines_catalog_is_what_the_registry_describes():
    """recipes/catalog.json answers `zoo list` and `zoo describe` without Keras; a stale entry is a wrong answer."""
    catalog = read_catalog()
    assert list(catalog) == zoo.list_models(), "models added or removed: run `python -m recipes.catalog`"
    for name, entry in catalog.items():
        assert entry == json.loads(json.dumps(zoo.describe(name))), f"{name} changed: run `python -m recipes.catalog`"


@pytest.mark.backend_independent
def test_size_variants_share_a_builder_with_other_defaults():
    tiny, small = zoo.default_config("transformer_classifier_tiny"), zoo.default_config("transformer_classifier_small")
    assert (tiny["hidden_dim"], tiny["num_layers"], tiny["num_heads"]) == (128, 2, 2)
    assert (small["hidden_dim"], small["num_layers"], small["num_heads"]) == (256, 4, 4)
    assert zoo.build("transformer_classifier_small").count_params() > zoo.build("transformer_classifier_tiny").count_params()


@pytest.mark.backend_independent
def test_overrides_reach_the_model():
    model = zoo.build("transformer_classifier_tiny", vocab_size=500, num_classes=5, num_layers=3, hidden_dim=32)
    assert model.name == "transformer_classifier_tiny"
    assert model.output_shape == (None, 5)
    assert sum(layer.name.startswith("encoder_") for layer in model.layers) == 3
    assert model.get_layer("embedding").token_embedding.embeddings.shape == (500, 32)


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["transformer_classifier_tiny", "transformer_tiny", "vit_small_images"])
def test_attention_dropout_reaches_every_attention_layer_and_is_off_by_default(name):
    """As in the papers (Vaswani et al., Section 5.4; Dosovitskiy et al., Appendix B.1), the attention weights are
    not dropped unless asked; `dropout` stays on the blocks' residual updates."""
    def rates(model):
        attention = {layer.dropout for layer in model._flatten_layers() if isinstance(layer, layers.MultiHeadAttention)}
        residual = {layer.dropout for layer in model._flatten_layers() if isinstance(layer, TRANSFORMER_BLOCKS)}
        return attention, residual

    default_dropout = zoo.default_config(name)["dropout"]
    assert rates(zoo.build(name, num_layers=1)) == ({0.0}, {default_dropout})
    assert rates(zoo.build(name, num_layers=1, attention_dropout=0.25, dropout=0.125)) == ({0.25}, {0.125})


@pytest.mark.backend_independent
def test_unknown_model_suggests_close_names():
    with pytest.raises(ValueError, match="Did you mean: bilstm_attention") as error:
        zoo.build("bilstm_atention")
    assert "transformer_classifier_tiny" in str(error.value)  # lists what is registered


@pytest.mark.backend_independent
def test_unknown_override_lists_valid_arguments():
    with raises_mentioning("'hiden_dim'", "vocab_size", "hidden_dim", "pooling"):
        zoo.build("transformer_classifier_tiny", hiden_dim=64)


@pytest.mark.backend_independent
@pytest.mark.parametrize("name, override, facts", [
    # The divisors of hidden_dim up to 64 are what num_heads may be; "]" shows where the list ends.
    ("transformer_classifier_tiny", {"num_heads": 3}, ["`num_heads`", "hidden_dim=128", "[1, 2, 4, 8, 16, 32, 64]"]),
    ("transformer_tiny", {"hidden_dim": 96, "num_heads": 5},
     ["`num_heads`", "hidden_dim=96", "num_heads=5", "[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48]"]),
    ("vit_small_images", {"num_heads": 5}, ["`num_heads`", "hidden_dim=192", "num_heads=5"]),
    ("transformer_classifier_tiny", {"pooling": "max"}, ["`pooling`", "'mean'", "'attention'"]),
    ("transformer_classifier_tiny", {"num_layers": 0}, ["`num_layers`", "a positive integer"]),
    ("transformer_classifier_tiny", {"hidden_dim": 0}, ["`hidden_dim`", "a positive integer"]),
    ("transformer_classifier_tiny", {"dropout": 1.5}, ["`dropout`", "[0, 1)"]),
    ("bilstm_attention", {"attention_units": 0}, ["`attention_units`", "a positive integer"]),
    ("bilstm_attention", {"lstm_dropout": 1.5}, ["`lstm_dropout`", "[0, 1)"]),
    ("transformer_tiny", {"intermediate_dim": 0}, ["`intermediate_dim`", "a positive integer"]),
    ("seq2seq_bahdanau", {"decoder_units": 0}, ["`decoder_units`", "a positive integer"]),
    ("seq2seq_luong", {"dropout": -0.1}, ["`dropout`", "[0, 1)"]),
    # Checked by the layers that take them, under the builders' names.
    ("transformer_classifier_tiny", {"intermediate_dim": 2.5}, ["`intermediate_dim`", "a positive integer"]),
    ("transformer_classifier_tiny", {"sequence_length": 0}, ["`sequence_length`", "a positive integer"]),
    ("seq2seq_bahdanau", {"attention_units": 0}, ["`attention_units`", "a positive integer"]),
    ("vit_small_images", {"dropout": 1.5}, ["`dropout`", "[0, 1)"]),
    ("transformer_tiny", {"attention_dropout": 1.0}, ["`attention_dropout`", "[0, 1)"]),
])
def test_invalid_override_values_are_explained(name, override, facts):
    """The message names the argument and what it may be; its wording is free."""
    with raises_mentioning(*facts):
        zoo.build(name, **override)


@pytest.mark.backend_independent
@pytest.mark.parametrize("name, override", [
    ("transformer_classifier_tiny", {"num_heads": 3}),
    ("transformer_tiny", {"hidden_dim": 96, "num_heads": 5}),
    ("vit_small_images", {"num_heads": 5}),
])
def test_heads_not_dividing_hidden_dim_get_one_message_in_the_builders_names(name, override):
    with pytest.raises(ValueError) as error:
        zoo.build(name, **override)
    hidden_dim = override.get("hidden_dim", zoo.default_config(name)["hidden_dim"])
    assert "`num_heads` must divide `hidden_dim`" in str(error.value)
    assert f"hidden_dim={hidden_dim}, num_heads={override['num_heads']}" in str(error.value)
    # Not the blocks' message for direct users (input width, `key_dim`), alone or chained.
    assert "key_dim" not in str(error.value) and error.value.__context__ is None


@pytest.mark.backend_independent
def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        zoo.register("bilstm_attention", task="text-classification", paper="-")(lambda: None)


@pytest.mark.parametrize("name", marking_covered_on_jax(TEXT_MODELS))
def test_keras_round_trip_gives_identical_outputs(name, rng, tmp_path):
    model = zoo.build(name, vocab_size=300)
    tokens = rng.integers(1, 300, size=(4, 12)).astype("int32")
    tokens[1, 7:] = 0  # padding
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(tokens)), keras.ops.convert_to_numpy(restored(tokens))
    )


@pytest.mark.parametrize("name", marking_covered_on_jax(VISION_MODELS))
def test_vision_keras_round_trip_gives_identical_outputs(name, rng, tmp_path):
    # The ImageNet models at one block per stage / one layer on small images, the CIFAR ResNets at one block per
    # stage (depth 8), keep the files small and the calls short; every layer type of the paper model is still there.
    small_images = {"input_shape": (32, 32, 3), "num_classes": 5}
    smaller = {
        "resnet50": {"blocks": (1, 1, 1, 1), **small_images}, "patch16": {"num_layers": 1, **small_images},
        **dict.fromkeys(["resnet20", "resnet56", "resnet110"], {"depth": 8}),
    }
    overrides = next((o for key, o in smaller.items() if name.endswith(key)), {})
    model = zoo.build(name, **overrides)
    images = rng.standard_normal((2, *model.input_shape[1:])).astype("float32")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(images)), keras.ops.convert_to_numpy(restored(images))
    )


@pytest.mark.parametrize("name", marking_covered_on_jax(TIME_SERIES_MODELS))
def test_time_series_keras_round_trip_gives_identical_outputs(name, rng, tmp_path):
    model = zoo.build(name, num_channels=2, num_classes=3)
    series = rng.standard_normal((3, 20, 2)).astype("float32")
    series[1, 13:] = np.nan  # padding
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(series)), keras.ops.convert_to_numpy(restored(series)))


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", EFFICIENT_TEXT_MODELS + EFFICIENT_VISION_MODELS)
def test_an_efficient_model_says_its_attention_and_cost_and_every_block_uses_it(name):
    description = zoo.describe(name)
    kind = description["attention"]["kind"]
    assert description["attention"]["cost"] == {"linformer": "O(n k)", "window": "O(n w)", "performer": "O(n m)"}[kind]
    blocks = [layer for layer in zoo.build(name).layers if isinstance(layer, layers.TransformerEncoderBlock)]
    assert blocks and all(block.attention_type == kind for block in blocks)
    expected_class = {"linformer": layers.LinformerAttention, "window": layers.SlidingWindowAttention, "performer": layers.PerformerAttention}
    assert all(type(block.attention) is expected_class[kind] for block in blocks)
    full = "transformer_classifier_small" if name in EFFICIENT_TEXT_MODELS else "vit_small_images"
    assert zoo.describe(full)["attention"] == {"kind": "full", "cost": "O(n^2)", "options": {}}
