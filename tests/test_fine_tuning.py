"""Fine-tuning from a checkpoint: the image recipe's `weights`, its normalization, layer-wise learning rates and
a frozen backbone."""

import json

import keras
import numpy as np
import pytest
from test_image_data import write_images

import zoo
from recipes import image_recognition as ir
from recipes.training import optimization
from tests.error_messages import raises_mentioning
from tests.reference_checkpoints import SMALL, SMALL_MANIFEST
from zoo.checkpoints import CheckpointError
from zoo.objectives import LayerwiseSGD, layer_depths

VIT = SMALL_MANIFEST["timm_vit_tiny_patch16_224"]
VIT_OPTIONS = {key: value for key, value in VIT["overrides"].items() if key not in ("input_shape", "num_classes")}


def image_folders(root, rng, size=40, per_class=12):
    """Two classes of random RGB images in `root/train/<class>` and `root/test/<class>`."""
    for split, count in (("train", per_class), ("test", 3)):
        write_images(root / split, {name: rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8) for name in ("cat", "dog")})
    return str(root / "train"), str(root / "test")


def test_fine_tuning_an_image_folder_starts_from_the_checkpoint(tmp_path, rng):
    """`--set weights=...`: the recipe's ViT (at 48x48, the 32x32 checkpoint's position table resampled, and a
    2-class head) starts from the checkpoint and normalizes with ImageNet's statistics, not the images'."""
    entry, options = VIT, VIT_OPTIONS
    train_dir, test_dir = image_folders(tmp_path, rng)
    checkpoint = str(SMALL / entry["checkpoint"])
    config = ir.Config(
        model=entry["zoo"], model_options=options, train_dir=train_dir, test_dir=test_dir, image_size=[48, 48],
        color_mode="rgb", weights=checkpoint, epochs=2, freeze_epochs=1, layer_decay=0.75, batch_size=8,
        learning_rate=1e-12, crop_padding=0,
        attention_probes=0, run_dir=str(tmp_path / "run"), verbose=0,
    )
    ir.train(config)
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")  # its optimizer has rates of its own
    assert isinstance(model.optimizer, LayerwiseSGD)
    assert (model.optimizer.frozen_steps, model.optimizer.layer_decay) == (3, 0.75)  # 24 images less 10%, 8 a batch
    reference = zoo.build(entry["zoo"], weights=checkpoint, **(options | {"input_shape": (48, 48, 3), "num_classes": 2}))
    trained = {weight.path: weight.numpy() for weight in model.get_layer(entry["zoo"]).weights}
    for weight in reference.weights:
        if not weight.path.startswith("logits/"):
            np.testing.assert_allclose(trained[weight.path], weight.numpy(), atol=1e-6, err_msg=weight.path)
    mean, variance = (np.ravel(keras.ops.convert_to_numpy(v)) for v in (model.get_layer("normalize").mean, model.get_layer("normalize").variance))
    np.testing.assert_allclose(mean, 255 * np.array(zoo.checkpoints.IMAGENET_MEAN), rtol=1e-6)
    np.testing.assert_allclose(variance, (255 * np.array(zoo.checkpoints.IMAGENET_STD)) ** 2, rtol=1e-6)


def test_normalization_follows_the_config_beside_the_checkpoint(tmp_path):
    """timm's hub downloads: model.safetensors with config.json, whose pretrained_cfg gives mean and std."""
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes((SMALL / "timm_vit_tiny_patch16_224.safetensors").read_bytes())
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_base_patch16_224", "pretrained_cfg": {
        "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.25]}}))
    config = ir.Config(weights=str(checkpoint))
    mean, variance = ir.normalization(config, np.zeros((1, 8, 8, 3), np.uint8))
    np.testing.assert_allclose(mean, [127.5] * 3)
    np.testing.assert_allclose(variance, np.square([127.5, 127.5, 63.75]))
    gray_mean, gray_variance = ir.normalization(config, np.zeros((1, 8, 8, 1), np.uint8))
    np.testing.assert_allclose(gray_variance, np.square([(127.5 + 127.5 + 63.75) / 3]))
    (tmp_path / "config.json").write_text(json.dumps({"pretrained_cfg": {"mean": [0.5, 0.5], "std": [0.5, 0.5, 0.5]}}))
    with raises_mentioning("config.json", "three numbers", error=CheckpointError):
        ir.normalization(config, np.zeros((1, 8, 8, 3), np.uint8))



def test_layer_depths_follow_timms_layer_decay_groups():
    """timm's `param_groups_layer_decay`: embeddings 0, block i at i + 1, the final norm and the head after the last."""
    vit = zoo.build(VIT["zoo"], **VIT_OPTIONS, input_shape=(32, 32, 3), num_classes=3)
    depths = dict(zip((w.path for w in vit.trainable_weights), layer_depths([w.path for w in vit.trainable_weights])))
    assert {path.split("/")[0]: depth for path, depth in depths.items()} == {
        "patch_embedding": 0, "class_token": 0, "position_embedding": 0, "encoder_0": 1, "encoder_1": 2,
        "encoder_norm": 3, "logits": 3,
    }
    resnet = zoo.build("resnet50", blocks=(2, 1, 1, 1), widths=(8, 8, 8, 8), input_shape=(32, 32, 3), num_classes=3)
    paths = [w.path for w in resnet.trainable_weights]
    by_layer = {path.rsplit("/", 1)[0]: depth for path, depth in zip(paths, layer_depths(paths))}
    assert (by_layer["stem_conv"], by_layer["stage1_block1_projection_conv"], by_layer["stage1_block2_3_bn"],
            by_layer["stage4_block1_1_conv"], by_layer["logits"]) == (0, 1, 2, 5, 6)


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_each_weight_steps_as_the_plain_optimizer_at_its_own_rate(name, rng):
    """One step of the layer-wise optimizer equals, weight by weight, a step of Keras' own optimizer at
    `lr * decay^(n + 1 - depth)`, weight decay included (fresh random gradients)."""
    model = zoo.build(VIT["zoo"], **VIT_OPTIONS, input_shape=(32, 32, 3), num_classes=3)
    variables = model.trainable_weights
    gradients = [rng.normal(size=v.shape).astype("float32") for v in variables]
    start = [v.numpy() for v in variables]
    optimizer = optimization.make_optimizer(name, 0.01, 0.05, layer_decay=0.5)
    optimizer.apply(gradients, variables)
    depths = layer_depths([v.path for v in variables])
    for variable, gradient, value, depth in zip(variables, gradients, start, depths):
        plain = optimization.make_optimizer(name, 0.01 * 0.5 ** (3 - depth), 0.05)
        copy = keras.Variable(value, name=variable.name)
        plain.apply([gradient], [copy])
        np.testing.assert_allclose(variable.numpy(), copy.numpy(), rtol=1e-5, atol=1e-7, err_msg=variable.path)


def test_a_frozen_backbone_waits_while_the_classifier_learns(rng):
    model = zoo.build("resnet50", blocks=(1, 1, 1, 1), widths=(8, 8, 8, 8), input_shape=(32, 32, 3), num_classes=3)
    variables = model.trainable_weights
    optimizer = optimization.make_optimizer("adamw", 0.01, 0.05, frozen_steps=2)
    start = [v.numpy() for v in variables]
    for step in range(3):
        optimizer.apply([rng.normal(size=v.shape).astype("float32") for v in variables], variables)
        moved = {v.path.split("/")[0]: not np.array_equal(v.numpy(), s) for v, s in zip(variables, start)}
        assert moved.pop("logits") is True
        assert set(moved.values()) == ({False} if step < 2 else {True}), step


def test_fine_tuning_settings_are_checked():
    with raises_mentioning("freeze_epochs=5", "epochs"):
        ir.Config(freeze_epochs=5, epochs=5, weights="model.safetensors")
    with raises_mentioning("`weights`", "freeze_epochs=2"):
        ir.Config(freeze_epochs=2)
    with raises_mentioning("layer_decay", "(0, 1]"):
        ir.Config(layer_decay=1.5)


def test_layerwise_rates_refuse_a_model_they_cannot_serve():
    """A model without blocks has no layers to decay; one without a `logits` layer would freeze every weight."""
    blockless = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="logits")])
    with raises_mentioning("layer_decay=0.5", "encoder_<i>"):
        optimization.make_optimizer("adamw", 0.01, 0.0, layer_decay=0.5).build(blockless.trainable_weights)
    headless = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="scores")])
    with raises_mentioning("frozen_steps=2", "'logits'"):
        optimization.make_optimizer("sgd", 0.01, 0.0, frozen_steps=2).build(headless.trainable_weights)
    with raises_mentioning("layer_decay", "(0, 1]"):
        optimization.make_optimizer("sgd", 0.01, 0.0, layer_decay=0.0)
