"""Writes the reference checkpoints that `tests/test_checkpoints.py` loads, with their models' logits.

Run with PyTorch, timm and torchvision installed (the suite itself needs none of them):

    python tests/checkpoints/make_references.py            # the small files committed beside this script
    python tests/checkpoints/make_references.py --full DIR  # full-size models, for one comparison by hand:
    ZOO_CHECKPOINTS=DIR python -m pytest tests/test_checkpoints.py -k reference

Each reference is the library's own model class (torchvision's `ResNet`, timm's `ResNet` and
`VisionTransformer`) with every parameter and statistic drawn at random, so that no weight can hide
behind a zero or a one. The small files keep each architecture at reduced depth and width, built by
the libraries' own code: torchvision's `_make_layer` with narrower stages; timm's `channels`,
`depth` and `embed_dim` arguments. timm rounds an SE bottleneck to a multiple of 8
channels; the small SE model sets `rd_divisor=1` so that its bottleneck is C / 16 as at full size
(where every C / 16 is already a multiple of 8). The logits come from `model.eval()` on fixed random
images; `references.json` names, for each file, the zoo model and overrides that must reproduce them.
"""

import argparse
import functools
import json
from pathlib import Path

import numpy as np
import safetensors.torch
import timm
import torch
import torchvision
from timm.layers import SEModule
from timm.models.vision_transformer import checkpoint_filter_fn

HERE = Path(__file__).parent
SMALL_RESNET = {"blocks": [2, 1, 1, 1], "widths": [8, 16, 32, 64]}
SMALL_VIT = {"patch_size": 8, "hidden_dim": 48, "num_layers": 2, "num_heads": 3, "intermediate_dim": 192}


def randomized(model, generator):
    """`model` in eval mode with every parameter and statistic drawn at random: kernels with the variance
    1 / fan-in (so that logits stay near 1 and an absolute tolerance means something), vectors, tokens
    and position tables N(0, 0.25), variances in [0.5, 1.5)."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            values = torch.randn(tensor.shape, generator=generator) * 0.5
            if tensor.ndim >= 2 and name not in ("cls_token", "pos_embed"):
                values = torch.randn(tensor.shape, generator=generator) / tensor[0].numel() ** 0.5
            if name.endswith("running_var"):
                values = torch.rand(tensor.shape, generator=generator) + 0.5
            tensor.copy_(values)
    return model.eval()


def small_torchvision_resnet(widths, blocks, num_classes):
    """torchvision's ResNet-50 code (its `Bottleneck` and `_make_layer`) with narrower, shallower stages."""
    model = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=num_classes)
    model.inplanes = 64  # the stem's width, fixed in torchvision (and timm) whatever the stages' widths
    for stage, (width, count) in enumerate(zip(widths, blocks)):
        setattr(model, f"layer{stage + 1}", model._make_layer(torchvision.models.resnet.Bottleneck, width, count, 1 if stage == 0 else 2))
    model.fc = torch.nn.Linear(4 * widths[-1], num_classes)
    return model


def timm_vit(name, img_size, classes, full):
    """timm's `name` at `img_size`; the small file: timm's `VisionTransformer` with `SMALL_VIT`'s sizes."""
    if full:
        return timm.create_model(name, pretrained=False, num_classes=classes, img_size=img_size)
    return timm.models.vision_transformer.VisionTransformer(
        img_size=img_size, patch_size=SMALL_VIT["patch_size"], embed_dim=SMALL_VIT["hidden_dim"],
        depth=SMALL_VIT["num_layers"], num_heads=SMALL_VIT["num_heads"], mlp_ratio=4, num_classes=classes,
    )


def references(full):
    """(file stem, how it was made, zoo model, zoo overrides, image size, make(image size) -> PyTorch model)."""
    classes = 1000 if full else 7
    resnet, size = ({}, 224) if full else (SMALL_RESNET, 64)
    timm_resnet = {} if full else {"layers": SMALL_RESNET["blocks"], "channels": SMALL_RESNET["widths"]}
    se = {} if full else {"block_args": {"attn_layer": functools.partial(SEModule, rd_divisor=1)}}
    yield (
        "torchvision_resnet50",
        "torchvision.models.resnet50" if full else "torchvision ResNet(Bottleneck), stages of 2, 1, 1, 1 blocks, widths 8-64",
        "resnet50", resnet, size,
        lambda _: torchvision.models.resnet50(num_classes=classes) if full
        else small_torchvision_resnet(SMALL_RESNET["widths"], SMALL_RESNET["blocks"], classes),
    )
    yield ("timm_resnet50", "timm resnet50", "resnet50", resnet, size,
           lambda _: timm.create_model("resnet50", pretrained=False, num_classes=classes, **timm_resnet))
    yield ("timm_seresnet50", "timm seresnet50", "se_resnet50", resnet, size,
           lambda _: timm.create_model("seresnet50", pretrained=False, num_classes=classes, **timm_resnet, **se))
    vits = (("vit_base_patch16_224", "vit_base_patch16"), ("vit_small_patch16_224", "vit_small_patch16"),
            ("deit_tiny_patch16_224", "vit_tiny_patch16")) if full else (("vit_tiny_patch16_224", "vit_tiny_patch16"),)
    for timm_name, zoo_name in vits:
        yield (f"timm_{timm_name}", f"timm {timm_name}", zoo_name, {} if full else SMALL_VIT, 224 if full else 32,
               functools.partial(timm_vit, timm_name, classes=classes, full=full))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", type=Path, help="write full-size checkpoints to this directory instead")
    args = parser.parse_args()
    out = args.full or HERE
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(20261205)
    manifest, arrays = [], {}

    def record(key, model, size, entry):
        images = torch.randn((2, 3, size, size), generator=generator)
        with torch.no_grad():
            arrays[f"{key}/images"] = images.permute(0, 2, 3, 1).numpy()
            arrays[f"{key}/logits"] = model(images).numpy()
        manifest.append({"key": key, **entry, "overrides": {**entry["overrides"], "input_shape": [size, size, 3]}})

    for stem, reference, zoo_name, overrides, size, make in references(args.full is not None):
        model = randomized(make(size), generator)
        state = {key: value.contiguous() for key, value in model.state_dict().items()}
        safetensors.torch.save_file(state, out / f"{stem}.safetensors")
        if stem.startswith("torchvision"):
            torch.save(state, out / f"{stem}.pth")  # the same weights as torchvision publishes them: a .pth state dict
        entry = {"checkpoint": f"{stem}.safetensors", "reference": reference, "zoo": zoo_name,
                 "overrides": {**overrides, "num_classes": model.num_classes if hasattr(model, "num_classes") else model.fc.out_features}}
        record(stem, model, size, entry)
        for other in (size * 3 // 2, size // 2) if "vit" in stem else ():
            # Fine-tuning resolutions: timm's own loader resamples the position table to the larger and smaller grid.
            resized = make(other).eval()
            resized.load_state_dict(checkpoint_filter_fn(state, resized))
            record(f"{stem}@{other}", resized, other, {**entry, "reference": f"{reference} at {other}x{other} (timm's checkpoint_filter_fn)"})
    np.savez_compressed(out / "references.npz", **arrays)
    (out / "references.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest)} references to {out}")


if __name__ == "__main__":
    main()
