"""Pretrained checkpoints people already have (timm, torchvision) loaded into the zoo's models.

A checkpoint is a flat map of PyTorch names to arrays. A `Layout` says, for one model family, which
checkpoint module each zoo layer is (one rule per kind of layer, by the zoo layer's name) and each
`Kind` how its weights sit there (OIHW kernels become HWIO, linear layers transpose, timm's fused qkv
splits into the heads of query, key and value, batch-norm statistics keep their names). Nothing is
copied per model: a family's builder carries its layout (`@loads(LAYOUT)`), and every variant and
size of that builder loads through it.

Loading is all or nothing: every zoo weight must find its checkpoint array at the right shape and
every checkpoint array must be used, else a `CheckpointError` names the keys and shapes and nothing
is assigned. `strict=False` loads what matches and reports what it skipped; a new `num_classes`
keeps the classifier freshly initialized; another image size resamples a ViT's position table as
timm does.
"""

import dataclasses
import json
import re
import warnings
from pathlib import Path

import numpy as np
from keras import ops

from layers.patches import resample_grid

SAFETENSORS = (".safetensors",)
TORCH = (".pth", ".pt", ".bin", ".ckpt")
# The normalization ImageNet checkpoints were trained with (torchvision's, and most of timm's), on 0-1 pixels.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# Wrappers around the state dict in training checkpoints (DeiT's {"model": ...}, Lightning's {"state_dict": ...}).
WRAPPERS = ("state_dict", "model", "module")
SHOWN = 8  # keys listed in an error; the rest are counted


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded as asked: unreadable, the wrong model, or incomplete."""


def read_checkpoint(path):
    """The arrays of a checkpoint file, `{PyTorch name: float32 NumPy array}`.

    `.safetensors` (timm's `model.safetensors`) is read with the `safetensors` package; `.pth`, `.pt`,
    `.bin` and `.ckpt` state dicts (torchvision's, timm's older files, training checkpoints holding one
    under "state_dict" or "model") need PyTorch. A "module." prefix (DataParallel) is dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint file at {path}.")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS:
        tensors = _read_safetensors(path)
    elif suffix in TORCH:
        tensors = _read_torch(path)
    else:
        raise CheckpointError(
            f"{path}: unknown checkpoint format {suffix!r}; expected {', '.join(SAFETENSORS + TORCH)} "
            "(timm's model.safetensors, torchvision's and timm's .pth state dicts)."
        )
    if not tensors:
        raise CheckpointError(f"{path} holds no tensors.")
    if all(key.startswith("module.") for key in tensors):
        tensors = {key[len("module.") :]: value for key, value in tensors.items()}
    return tensors


def _read_safetensors(path):
    import safetensors.numpy

    try:
        tensors = safetensors.numpy.load_file(path)
    except Exception as error:  # the package raises its own error types (SafetensorError, and others on bad headers)
        raise CheckpointError(
            f"{path} could not be read as a safetensors file ({error}): a truncated or corrupt download, or "
            "tensors of a type NumPy cannot hold."
        ) from error
    return {key: np.asarray(value, np.float32) for key, value in tensors.items()}


def _read_torch(path):
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"{path} is a PyTorch state dict, and reading one needs PyTorch (pip install torch). Without it, "
            "convert the file once elsewhere (safetensors.torch.save_file(torch.load(path), 'model.safetensors')) "
            "or download the model's model.safetensors, which needs no PyTorch."
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"{path} could not be read as a PyTorch state dict ({error}): a truncated or corrupt download, or a whole "
            "pickled model (torch.save(model)), which is not loaded; save model.state_dict() instead."
        ) from error
    while isinstance(state, dict) and not any(torch.is_tensor(v) for v in state.values()):
        inner = [state[key] for key in WRAPPERS if isinstance(state.get(key), dict)]
        if not inner:
            break
        state = inner[0]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict of named tensors.")
    return {key: value.float().numpy() for key, value in state.items() if torch.is_tensor(value)}


def checkpoint_normalization(path):
    """`(mean, std)`: the per-channel normalization of 0-1 RGB pixels that the checkpoint at `path` was
    trained with. timm's hub downloads keep it in the `config.json` beside `model.safetensors`
    (`pretrained_cfg`: e.g. 0.5 and 0.5 for the AugReg ViTs); without one, ImageNet's mean and std
    (torchvision's checkpoints, DeiT's)."""
    config_file = Path(path).with_name("config.json")
    if not config_file.is_file():
        return IMAGENET_MEAN, IMAGENET_STD
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{config_file} (beside the checkpoint) is not JSON: {error}") from error
    pretrained = config.get("pretrained_cfg", config) if isinstance(config, dict) else None
    if not isinstance(pretrained, dict):
        raise CheckpointError(f"{config_file} (beside the checkpoint) holds no settings object (timm's `pretrained_cfg`).")
    mean, std = pretrained.get("mean"), pretrained.get("std")
    if mean is None and std is None:
        return IMAGENET_MEAN, IMAGENET_STD

    def three_numbers(values, low):
        return isinstance(values, list) and len(values) == 3 and all(isinstance(v, (int, float)) and v > low for v in values)

    if not (three_numbers(mean, -np.inf) and three_numbers(std, 0)):
        raise CheckpointError(
            f"{config_file}: `mean` and `std` must be three numbers each (std positive); received mean={mean!r}, std={std!r}."
        )
    return tuple(mean), tuple(std)


# Transforms: (checkpoint array, the zoo weight's shape, its layer) -> the zoo weight's array.
def same(array, shape, layer):
    return array


def conv_kernel(array, shape, layer):
    """PyTorch's (out, in, h, w) -> Keras' (h, w, in, out)."""
    return array.transpose(2, 3, 1, 0)


def input_kernel(array, shape, layer):
    """The first convolution's kernel (`conv_kernel`); for a model of grayscale images, the RGB filters
    summed, as timm's `adapt_input_conv` does: a gray image is an RGB image of three equal channels."""
    if shape[2] == 1 and array.shape[1] == 3:
        array = array.sum(axis=1, keepdims=True)
    return conv_kernel(array, shape, layer)


def dense_kernel(array, shape, layer):
    """PyTorch's Linear (out, in) -> Keras' Dense (in, out)."""
    return array.T


def pointwise_kernel(array, shape, layer):
    """A 1x1 convolution (out, in, 1, 1) used as a Dense layer (in, out), e.g. timm's SE `fc1`/`fc2`."""
    return array.reshape(array.shape[:2]).T


def fused_heads(part):
    """timm's fused `qkv` (3 D, D) Linear: rows `part` (0 query, 1 key, 2 value) as heads, (D, H, d) or (H, d)."""

    def transform(array, shape, layer):
        rows = array.shape[0] // 3
        piece = array[part * rows : (part + 1) * rows]
        return (piece.T if piece.ndim == 2 else piece).reshape(shape)

    transform.__name__ = f"fused_heads({part})"
    return transform


def merged_heads(array, shape, layer):
    """The output projection (D_out, H d) -> (H, d, D_out)."""
    return array.T.reshape(shape)


def position_table(array, shape, layer):
    """timm's `pos_embed` (1, prefix + h w, D) -> the layer's table, the grid resampled as timm's
    `resample_abs_pos_embed` does (bicubic, antialiased) where the image size differs."""
    table = array.reshape(array.shape[-2:])
    if table.shape == tuple(shape):
        return table
    patches = len(table) - layer.num_prefix_tokens
    side = int(round(max(patches, 0) ** 0.5))
    if side * side != patches:
        raise ValueError(
            f"its {patches} rows after the model's {layer.num_prefix_tokens} prefix token(s) are no square grid of "
            "patches (a checkpoint with other prefix tokens, e.g. a distilled DeiT's, or none in the table?)"
        )
    return ops.convert_to_numpy(
        resample_grid(table, layer.num_prefix_tokens, (side, side), layer.grid_size, "bicubic", antialias=True)
    )


@dataclasses.dataclass(frozen=True)
class Kind:
    """How one kind of zoo layer's weights sit in its checkpoint module: {zoo weight: (name, transform)},
    or {zoo weight: None} for a weight no checkpoint holds (left as the layer drew it)."""

    weights: dict


CONV = Kind({"kernel": ("weight", conv_kernel), "bias": ("bias", same)})
INPUT_CONV = Kind({"kernel": ("weight", input_kernel), "bias": ("bias", same)})
DENSE = Kind({"kernel": ("weight", dense_kernel), "bias": ("bias", same)})
POINTWISE = Kind({"kernel": ("weight", pointwise_kernel), "bias": ("bias", same)})
BATCH_NORM = Kind(
    {"gamma": ("weight", same), "beta": ("bias", same), "moving_mean": ("running_mean", same),
     "moving_variance": ("running_var", same)}
)
LAYER_NORM = Kind({"gamma": ("weight", same), "beta": ("bias", same)})
FUSED_ATTENTION = Kind(
    {f"{which}_{weight}": (f"qkv.{'weight' if weight == 'kernel' else 'bias'}", fused_heads(part))
     for part, which in enumerate(("query", "key", "value")) for weight in ("kernel", "bias")}
    | {"output_kernel": ("proj.weight", merged_heads), "output_bias": ("proj.bias", same)}
    # Performer attention (FAVOR+) uses the checkpoint's projections with random features of its own: the
    # Performer paper's fine-tuning from a softmax Transformer.
    | {"random_features": None}
)
CLASS_TOKEN = Kind({"class_token": ("cls_token", same)})
POSITIONS = Kind({"position_table": ("pos_embed", position_table)})


@dataclasses.dataclass(frozen=True)
class Rule:
    """Zoo layers whose name matches `pattern` are the checkpoint module `module(match)`, of `kind`."""

    pattern: str
    module: object  # a format string over the pattern's groups, or a function of the match
    kind: Kind
    head: bool = False  # the classifier, which a new `num_classes` replaces

    def key(self, match, name):
        module = self.module(match) if callable(self.module) else self.module.format(**match.groupdict())
        return f"{module}.{name}" if module else name


@dataclasses.dataclass(frozen=True)
class Layout:
    """One family's checkpoint layout: the rules, what it matches, and checkpoint keys it ignores."""

    name: str
    rules: tuple
    ignored: str = r".*num_batches_tracked"  # batch-norm step counters
    supports: object = None  # configuration -> None, or why this configuration has no checkpoint

    def rule(self, layer_path):
        for rule in self.rules:
            match = re.fullmatch(rule.pattern, layer_path)
            if match:
                return rule, match
        return None, None


def loads(layout):
    """Marks a zoo builder as loading checkpoints of `layout` (`zoo.build(name, weights=PATH)`)."""

    def decorator(builder):
        builder.checkpoint_layout = layout
        return builder

    return decorator


@dataclasses.dataclass
class LoadReport:
    """What `load_checkpoint` did: the zoo weights it loaded, and those it left as initialized."""

    loaded: list
    new_head: list  # the classifier's weights, when the model has another number of classes
    skipped: list  # what strict=False let through: each a sentence naming the key and the shapes
    unused: list  # checkpoint keys no zoo weight took

    def __str__(self):
        lines = [f"Loaded {len(self.loaded)} weights."]
        if self.new_head:
            lines += [f"New classifier: {', '.join(self.new_head)}."]
        if self.skipped:
            lines += ["Left as initialized:", *(f"  {line}" for line in self.skipped)]
        if self.unused:
            lines += [f"Checkpoint keys not used: {', '.join(self.unused)}"]
        return "\n".join(lines)


def _layer_of(model, path):
    return model.get_layer(path.split("/")[0])


def plan(model, checkpoint, layout, *, strict=True, new_head=False):
    """Matches `model`'s weights with `checkpoint`'s arrays: ([(variable, array)], LoadReport).

    Raises `CheckpointError` with every problem found when `strict` (after a zoo weight without a
    rule, which is never a question of strictness: the layout does not know the layer).
    """
    pairs, fresh_head, problems, used = [], [], [], set()
    for variable in model.weights:
        layer_path, _, name = variable.path.rpartition("/")
        rule, match = layout.rule(layer_path)
        if rule is None or name not in rule.kind.weights:
            raise CheckpointError(
                f"The {layout.name} layout has no checkpoint name for the zoo weight {variable.path!r}; "
                "this model does not have the checkpoint's architecture."
            )
        if rule.kind.weights[name] is None:
            continue  # drawn by the layer, in no checkpoint (a Performer's random features)
        checkpoint_name, transform = rule.kind.weights[name]
        key = rule.key(match, checkpoint_name)
        used.add(key)
        problem = None
        if key not in checkpoint:
            problem = f"missing key {key!r} (for the zoo weight {variable.path!r}, shape {tuple(variable.shape)})"
        else:
            array = checkpoint[key]
            try:
                value = transform(array, tuple(variable.shape), _layer_of(model, variable.path))
                why = ""
            except ValueError as error:
                value, why = None, f": {error}"
            if value is None or tuple(value.shape) != tuple(variable.shape):
                problem = (f"checkpoint key {key!r} has shape {tuple(array.shape)}; the zoo weight {variable.path!r} "
                           f"has shape {tuple(variable.shape)}{why}")
        if problem is None:
            pairs.append((variable, value))
        elif rule.head and new_head:
            fresh_head.append(variable.path)  # another number of classes, or a checkpoint saved without its head
        else:
            problems.append(problem)
    unused = sorted(key for key in checkpoint if key not in used and not re.fullmatch(layout.ignored, key))
    if strict and (problems or unused):
        raise CheckpointError(_mismatch_message(layout, model, problems, unused))
    return pairs, LoadReport([variable.path for variable, _ in pairs], fresh_head, problems, unused)


def _mismatch_message(layout, model, problems, unused):
    def listed(items):
        extra = f" (and {len(items) - SHOWN} more)" if len(items) > SHOWN else ""
        return "; ".join(items[:SHOWN]) + extra

    parts = [f"The checkpoint does not match the zoo model {model.name!r} ({layout.name} layout):"]
    if problems:
        parts.append(f"{len(problems)} zoo weight(s) cannot load: {listed(problems)}.")
    if unused:
        parts.append(f"{len(unused)} checkpoint key(s) have no place in the model: {listed([repr(key) for key in unused])}.")
    parts.append(
        "Check that the file is this model's (a different depth or width shows as missing keys and other shapes); "
        "pass a new num_classes to train a new classifier, or strict=False to load what matches and see what was skipped."
    )
    return " ".join(parts)


def load_checkpoint(model, path, layout, *, strict=True, new_head=False):
    """Loads the checkpoint at `path` into `model` through `layout`; returns a `LoadReport`.

    Args:
        model: a zoo model of `layout`'s family.
        path: a `.safetensors` file or a PyTorch state dict (`read_checkpoint`).
        layout: the family's `Layout`.
        strict: refuse (`CheckpointError`, nothing assigned) unless every weight loads and every
            checkpoint key is used; False loads what matches and reports the rest (also as a warning).
        new_head: the model's classifier may differ from the checkpoint's (another `num_classes`): it
            keeps its fresh initialization.
    """
    checkpoint = read_checkpoint(path)
    pairs, report = plan(model, checkpoint, layout, strict=strict, new_head=new_head)
    if not pairs:
        raise CheckpointError(f"No weight of {path} fits the zoo model {model.name!r} ({layout.name} layout).")
    for variable, value in pairs:
        variable.assign(value.astype(variable.dtype))
    if report.skipped or report.unused:
        warnings.warn(f"{path} into {model.name!r}: {report}", stacklevel=3)  # the caller of zoo.build
    return report
