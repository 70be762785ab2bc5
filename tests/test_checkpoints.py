"""Pretrained checkpoints: timm's and torchvision's files give the zoo models their reference's logits.

The references are the libraries' own models with random weights, at reduced depth and width, written
with their logits by `tests/checkpoints/make_references.py` (PyTorch, timm, torchvision: not needed
here). `ZOO_CHECKPOINTS=DIR` points the reference test at the same script's full-size files instead.
"""

import json
import os
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import safetensors.numpy

import zoo
from tests.error_messages import raises_mentioning
from tests.reference_checkpoints import SMALL, SMALL_MANIFEST, build, overrides
from zoo.checkpoints import CheckpointError, read_checkpoint

REFERENCES = Path(os.environ.get("ZOO_CHECKPOINTS", SMALL))
MANIFEST = json.loads((REFERENCES / "references.json").read_text())


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["key"] for entry in MANIFEST])
def test_a_loaded_reference_checkpoint_gives_the_references_logits(entry):
    """torchvision's and timm's ResNet-50, timm's SE-ResNet-50 and ViT, and a ViT fine-tuned at another image
    size through timm's own position-table resampling: the same logits, to 1e-4 (they are of order 1)."""
    arrays = np.load(REFERENCES / "references.npz")
    model = zoo.build(entry["zoo"], weights=REFERENCES / entry["checkpoint"], **overrides(entry))
    logits = model.predict(arrays[f"{entry['key']}/images"], verbose=0)
    np.testing.assert_allclose(logits, arrays[f"{entry['key']}/logits"], atol=1e-4, rtol=0)


def test_a_torchvision_state_dict_reads_as_its_safetensors_twin():
    pytest.importorskip("torch")
    pth, safe = read_checkpoint(SMALL / "torchvision_resnet50.pth"), read_checkpoint(SMALL / "torchvision_resnet50.safetensors")
    assert pth.keys() == safe.keys()
    for key in pth:
        np.testing.assert_array_equal(pth[key], safe[key])


def test_a_state_dict_without_pytorch_says_how_to_do_without(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with raises_mentioning("torchvision_resnet50.pth", "pip install torch", "model.safetensors", error=CheckpointError):
        read_checkpoint(SMALL / "torchvision_resnet50.pth")


def test_a_new_number_of_classes_loads_all_but_the_classifier():
    loaded = build("timm_seresnet50")
    fine_tuned = build("timm_seresnet50", num_classes=3)
    assert fine_tuned.get_layer("logits").kernel.shape[-1] == 3
    for mine, reference in zip(fine_tuned.weights, loaded.weights):
        if not mine.path.startswith("logits/"):
            np.testing.assert_array_equal(mine.numpy(), reference.numpy(), err_msg=mine.path)
    features = keras.Model(fine_tuned.inputs, fine_tuned.get_layer("pool").output)
    reference = keras.Model(loaded.inputs, loaded.get_layer("pool").output)
    images = np.load(SMALL / "references.npz")["timm_seresnet50/images"]
    np.testing.assert_allclose(features.predict(images, verbose=0), reference.predict(images, verbose=0), atol=1e-6)


def test_the_wrong_model_for_a_file_names_the_keys_and_shapes():
    # A checkpoint of the other width: every stage's shapes differ, and nothing is assigned.
    with raises_mentioning("layer1.0.conv1.weight", "(8, 64, 1, 1)", "stage1_block1_1_conv/kernel", "(1, 1, 64, 16)",
                           error=CheckpointError):
        build("torchvision_resnet50", widths=(16, 32, 64, 128))
    # A ViT file for a ResNet: no key is found, and the ViT's are named as unused.
    with raises_mentioning("missing key 'conv1.weight'", "'blocks.0.attn.qkv.weight'", error=CheckpointError):
        build("torchvision_resnet50", weights=SMALL / "timm_vit_tiny_patch16_224.safetensors")
    # An SE file for a plain ResNet: the SE weights have no place.
    with raises_mentioning("layer1.0.se.fc1.weight", error=CheckpointError):
        zoo.build("resnet50", weights=SMALL / "timm_seresnet50.safetensors", **overrides(SMALL_MANIFEST["timm_seresnet50"]))


def test_a_missing_key_fails_the_load_and_assigns_nothing(tmp_path):
    arrays = safetensors.numpy.load_file(SMALL / "timm_resnet50.safetensors")
    del arrays["layer2.0.bn2.running_var"]
    incomplete = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(arrays, incomplete)
    entry = SMALL_MANIFEST["timm_resnet50"]
    model = zoo.build(entry["zoo"], **overrides(entry))
    before = [weight.numpy() for weight in model.weights]
    with raises_mentioning("missing key 'layer2.0.bn2.running_var'", "stage2_block1_2_bn/moving_variance", "strict=False",
                           error=CheckpointError):
        zoo.checkpoints.load_checkpoint(model, incomplete, zoo.vision.RESNET_LAYOUT)
    for weight, value in zip(model.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)
    # strict=False loads the rest and says what it left.
    with pytest.warns(UserWarning, match="layer2.0.bn2.running_var"):
        report = zoo.checkpoints.load_checkpoint(model, incomplete, zoo.vision.RESNET_LAYOUT, strict=False)
    assert len(report.loaded) == len(model.weights) - 1
    reference = build("timm_resnet50")
    for weight, expected in zip(model.weights, reference.weights):
        if weight.path != "stage2_block1_2_bn/moving_variance":
            np.testing.assert_array_equal(weight.numpy(), expected.numpy(), err_msg=weight.path)


def test_an_unused_key_fails_a_strict_load(tmp_path):
    arrays = safetensors.numpy.load_file(SMALL / "timm_resnet50.safetensors")
    arrays["layer5.0.conv1.weight"] = np.zeros((4, 4, 1, 1), np.float32)
    extended = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(arrays, extended)
    with raises_mentioning("'layer5.0.conv1.weight'", "no place", error=CheckpointError):
        build("timm_resnet50", weights=extended)


@pytest.mark.parametrize("damage", ["truncated", "not a checkpoint"])
def test_a_damaged_file_is_refused_with_its_name(tmp_path, damage):
    data = (SMALL / "timm_resnet50.safetensors").read_bytes()
    damaged = tmp_path / "model.safetensors"
    damaged.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"<html>404 Not Found</html>")
    with raises_mentioning(str(damaged), "truncated or corrupt", error=CheckpointError):
        build("timm_resnet50", weights=damaged)


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    with raises_mentioning("No checkpoint file", "missing.safetensors", error=CheckpointError):
        build("timm_resnet50", weights=tmp_path / "missing.safetensors")
    weights = tmp_path / "weights.h5"
    weights.write_bytes(b"\x89HDF")
    with raises_mentioning("'.h5'", ".safetensors", ".pth", error=CheckpointError):
        build("timm_resnet50", weights=weights)


@pytest.mark.parametrize("name, says", [
    ("eca_resnet50", "ecaresnet50d"), ("cbam_resnet50", "no CBAM ResNet"), ("resnet20", "no timm or torchvision checkpoint"),
])
def test_models_without_a_public_checkpoint_say_so(name, says):
    with raises_mentioning(says, "resnet50, se_resnet50", "vit_base_patch16", error=CheckpointError):
        zoo.build(name, weights=SMALL / "timm_resnet50.safetensors")


def test_a_gray_image_model_sums_the_rgb_filters_of_the_first_convolution():
    """timm's `adapt_input_conv`: a gray image is an RGB image of three equal channels, so the RGB model's
    logits on it are the one-channel model's with the summed filters (same normalization on every channel)."""
    rgb, gray = build("timm_resnet50"), build("timm_resnet50", input_shape=(64, 64, 1))
    images = np.load(SMALL / "references.npz")["timm_resnet50/images"][..., :1]
    np.testing.assert_allclose(gray.predict(images, verbose=0), rgb.predict(np.repeat(images, 3, -1), verbose=0), atol=1e-5)


def test_a_checkpoint_saved_without_its_classifier_loads_with_a_new_one(tmp_path):
    """timm's `num_classes=0` exports: no head keys. A new `num_classes` trains a new head; without one, the
    missing keys are named."""
    arrays = safetensors.numpy.load_file(SMALL / "timm_resnet50.safetensors")
    headless = tmp_path / "model.safetensors"
    safetensors.numpy.save_file({key: value for key, value in arrays.items() if not key.startswith("fc.")}, headless)
    model = build("timm_resnet50", weights=headless, num_classes=4)
    reference = build("timm_resnet50")
    for mine, theirs in zip(model.weights, reference.weights):
        if not mine.path.startswith("logits/"):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)
    entry = SMALL_MANIFEST["timm_resnet50"]
    config = {key: value for key, value in overrides(entry).items() if key != "num_classes"}
    with raises_mentioning("missing key 'fc.weight'", error=CheckpointError):
        zoo.build(entry["zoo"], weights=headless, **config)


def test_window_and_performer_vits_take_the_checkpoint_of_full_attention():
    """Their blocks have the same projections: a window over every token is full attention (the reference's
    logits), and a Performer keeps its own random features (the Performer paper's fine-tuning)."""
    arrays = np.load(SMALL / "references.npz")
    images, logits = arrays["timm_vit_tiny_patch16_224/images"], arrays["timm_vit_tiny_patch16_224/logits"]
    window = build("timm_vit_tiny_patch16_224", attention="window", attention_options={"window": 17})
    np.testing.assert_allclose(window.predict(images, verbose=0), logits, atol=1e-4)
    performer = build("timm_vit_tiny_patch16_224", attention="performer", attention_options={"num_features": 64})
    features = performer.get_layer("encoder_0").attention.random_features
    assert not np.allclose(performer.predict(images, verbose=0), logits, atol=1e-4)  # an approximation of the softmax
    assert features.shape == (64, 16)
    with raises_mentioning("Linformer", error=CheckpointError):
        build("timm_vit_tiny_patch16_224", attention="linformer", attention_options={"projected_length": 8})


def test_describe_says_which_checkpoints_a_model_loads():
    assert zoo.describe("se_resnet50")["checkpoints"] == "torchvision / timm ResNet"
    assert zoo.describe("vit_tiny_patch16")["checkpoints"] == "timm VisionTransformer"
    assert zoo.describe("eca_resnet50")["checkpoints"] is None
    assert zoo.describe("vit_small_images_linformer")["checkpoints"] is None
