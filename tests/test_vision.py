"""Image models: the papers' parameter counts, shapes, attention placement, bad arguments."""


import keras
import numpy as np
import pytest

import zoo
from recipes.catalog import read_catalog

# zoo.describe(name) of every model, without building each again: test_zoo checks the file equals the registry.
DESCRIBED = read_catalog()

# Trainable parameters at the papers' settings. Paper tables (rounded) and the exact counts of
# the reference implementations (torchvision resnet50, timm seresnet50 / vit_base_patch16_224 /
# deit_tiny_patch16_224 / deit_small_patch16_224; He et al.'s CIFAR ResNets as in akamaster/pytorch_resnet_cifar10).
PAPER_COUNTS = {
    "resnet20": (0.27e6, 0.005e6, 269_722),
    "resnet56": (0.85e6, 0.005e6, 853_018),
    "resnet50": (25.6e6, 0.05e6, 25_557_032),
    "se_resnet50": (28.1e6, 0.05e6, 28_088_024),
    "cbam_resnet50": (28.09e6, 0.005e6, None),
    "vit_base_patch16": (86e6, 1e6, 86_567_656),
    "vit_tiny_patch16": (5.7e6, 0.05e6, 5_717_416),
    "vit_small_patch16": (22e6, 0.5e6, 22_050_664),
}


@pytest.mark.parametrize("name", PAPER_COUNTS)
def test_parameter_counts_match_the_papers(name):
    paper, rounding, reference = PAPER_COUNTS[name]
    count = DESCRIBED[name]["trainable_parameters"]
    assert abs(count - paper) <= rounding, count
    if reference is not None:
        assert count == reference


# What parameter counts cannot see: the head count. ViT Table 1 (ViT-B) and DeiT Table 1 (Ti, S).
PAPER_TRANSFORMERS = {
    "vit_base_patch16": {"num_layers": 12, "hidden_dim": 768, "intermediate_dim": 3072, "num_heads": 12},
    "vit_tiny_patch16": {"num_layers": 12, "hidden_dim": 192, "intermediate_dim": 768, "num_heads": 3},
    "vit_small_patch16": {"num_layers": 12, "hidden_dim": 384, "intermediate_dim": 1536, "num_heads": 6},
}


@pytest.mark.parametrize("name", PAPER_TRANSFORMERS)
def test_vision_transformers_have_the_papers_layers_widths_and_heads(name):
    config = zoo.default_config(name)
    assert {key: config[key] for key in PAPER_TRANSFORMERS[name]} == PAPER_TRANSFORMERS[name]
    assert config["patch_size"] == 16
    model = zoo.build(name, input_shape=(32, 32, 3), num_classes=2)
    heads = [layer.attention.num_heads for layer in model.layers if hasattr(layer, "attention")]
    assert heads == [PAPER_TRANSFORMERS[name]["num_heads"]] * 12


def test_attention_modules_add_what_their_papers_say():
    """SE adds 2 C^2/r + C/r + C per block; ECA adds k per block; CBAM adds SE's MLP plus 2 k^2."""
    base = DESCRIBED["resnet50"]["trainable_parameters"]
    widths = [4 * w for w, n in zip((64, 128, 256, 512), (3, 4, 6, 3)) for _ in range(n)]
    se = sum(2 * c * (c // 16) + c // 16 + c for c in widths)
    assert DESCRIBED["se_resnet50"]["trainable_parameters"] == base + se
    assert DESCRIBED["cbam_resnet50"]["trainable_parameters"] == base + se + 16 * 2 * 7 * 7
    eca_k = {256: 5, 512: 5, 1024: 5, 2048: 7}
    assert DESCRIBED["eca_resnet50"]["trainable_parameters"] == base + sum(eca_k[c] for c in widths)


@pytest.mark.parametrize("ratio", [4, 8])
def test_reduction_sets_the_se_and_cbam_ratio(ratio):
    base = DESCRIBED["resnet20"]["trainable_parameters"]
    widths = [c for c in (16, 32, 64) for _ in range(3)]
    se = sum(2 * c * (c // ratio) + c // ratio + c for c in widths)
    for name, spatial in (("se_resnet20", 0), ("cbam_resnet20", 2 * 7 * 7)):
        model = zoo.build(name, reduction=ratio)
        trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
        assert trainable == base + se + spatial * len(widths)


@pytest.mark.parametrize("name, overrides, shape", [
    ("se_resnet20", {"input_shape": (28, 28, 1)}, (2, 28, 28, 1)),
    ("cbam_resnet20", {"num_classes": 7}, (2, 32, 32, 3)),
    ("eca_resnet50", {"blocks": (1, 1, 1, 1), "input_shape": (64, 64, 3), "num_classes": 5}, (2, 64, 64, 3)),
    ("vit_small_images", {"num_layers": 1}, (2, 28, 28, 1)),
    ("vit_tiny_patch16", {"num_layers": 1, "input_shape": (32, 48, 3), "num_classes": 3}, (2, 32, 48, 3)),
])
def test_models_take_other_images_and_classes(rng, name, overrides, shape):
    model = zoo.build(name, **overrides)
    logits = model(rng.standard_normal(shape).astype("float32"))
    assert tuple(logits.shape) == (shape[0], overrides.get("num_classes", zoo.default_config(name)["num_classes"]))
    assert np.isfinite(keras.ops.convert_to_numpy(logits)).all()


def test_every_residual_block_has_its_attention_module_before_the_addition():
    for name, module, blocks in (("se_resnet56", "SqueezeExcitation", 27), ("cbam_resnet20", "CBAM", 9)):
        model = zoo.build(name)
        modules = [layer for layer in model.layers if type(layer).__name__ == module]
        assert len(modules) == blocks
        for layer in modules:
            addition = model.get_layer(layer.name.rsplit("_", 1)[0] + "_add")
            assert any(tensor is layer.output for tensor in addition.input), f"{layer.name} does not feed {addition.name}"


@pytest.mark.parametrize(
    "name, overrides, convolutions",
    [
        ("resnet20", {}, ["stage2_block1_1", "stage3_block1_1"]),
        ("resnet50", {"blocks": (1, 1, 1, 1), "input_shape": (64, 64, 3)}, ["stem", "stage2_block1_2", "stage4_block1_2"]),
    ],
)
def test_strided_convolutions_centre_on_the_pixels_the_shortcut_keeps(rng, name, overrides, convolutions):
    """With a kernel that passes its centre tap through, a stride-2 convolution must return x[::2, ::2],
    the pixels an option-A shortcut or a strided 1x1 projection keeps (on even and odd sizes)."""
    model = zoo.build(name, **overrides)
    for conv_name in convolutions:
        pad, conv = model.get_layer(f"{conv_name}_pad"), model.get_layer(f"{conv_name}_conv")
        size, _, channels_in, channels_out = conv.kernel.shape
        kernel = np.zeros(conv.kernel.shape, "float32")
        through = np.arange(min(channels_in, channels_out))
        kernel[size // 2, size // 2, through, through] = 1.0
        conv.kernel.assign(kernel)
        height, width = int(rng.integers(4, 12)) * 2, int(rng.integers(2, 6)) * 2 + 1
        x = rng.standard_normal((2, height, width, channels_in)).astype("float32")
        y = keras.ops.convert_to_numpy(conv(pad(x)))
        assert y.shape[1:3] == (-(-height // 2), -(-width // 2))  # as "same" padding would give
        np.testing.assert_allclose(y[..., through], x[:, ::2, ::2, through], atol=1e-6)


def test_option_a_shortcut_subsamples_and_zero_pads(rng):
    from zoo.vision import ZeroPaddingShortcut

    x = rng.standard_normal((2, 8, 8, 16)).astype("float32")
    y = keras.ops.convert_to_numpy(ZeroPaddingShortcut(32, 2)(x))
    np.testing.assert_array_equal(y[..., 8:24], x[:, ::2, ::2])
    assert not y[..., :8].any() and not y[..., 24:].any()


@pytest.mark.parametrize("name, overrides, message", [
    ("resnet20", {"depth": 21}, "6n \\+ 2"),
    ("resnet20", {"attention": "gather-excite"}, "attention"),
    ("eca_resnet20", {"reduction": 8}, r"`reduction` is the ratio of SE and CBAM blocks; attention='eca' has none"),
    ("resnet50", {"reduction": 4}, r"attention=None has none \(received reduction=4; leave it None\)"),
    ("se_resnet20", {"reduction": 0}, r"`reduction` must be a positive integer or None; received reduction=0"),
    ("vit_small_images", {"input_shape": (30, 30, 1)}, "Image height 30 is not divisible by the patch size 4"),
    ("resnet50", {"blocks": 3}, r"`blocks` must give the number of blocks of each of the 4 stages.*received blocks=3"),
    ("resnet50", {"blocks": (3, 4)}, r"4 stages.*received blocks=\(3, 4\)"),
    ("se_resnet50", {"blocks": (3, 4, True, 3)}, r"`blocks\[2\]` must be a positive integer"),
    ("se_resnet20", {"input_shape": (32, 32)}, r"`input_shape` must be \(height, width, channels\), positive integers "
                                               r"\(height and width may be None\); received input_shape=\(32, 32\)"),
    ("cbam_resnet50", {"input_shape": (64, 64, 0)}, r"received input_shape=\(64, 64, 0\)"),
    ("resnet56", {"input_shape": 32}, r"received input_shape=32"),
    ("vit_small_images", {"input_shape": (None, None, 1)}, r"channels\), positive integers; received input_shape=\(None"),
])
def test_bad_arguments_are_explained(name, overrides, message):
    with pytest.raises(ValueError, match=message):
        zoo.build(name, **overrides)


def test_resnets_take_images_of_any_size_when_asked(rng):
    model = zoo.build("se_resnet20", input_shape=(None, None, 3))
    for size in (32, 40):
        assert tuple(model(rng.standard_normal((1, size, size, 3)).astype("float32")).shape) == (1, 10)
