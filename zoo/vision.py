"""Image classifiers: ResNets with SE, ECA or CBAM in every residual block, and Vision Transformers.

Every model takes `images` `(batch, H, W, C)` (float, already normalized) and
returns class `logits`. `input_shape` and `num_classes` are overridable
everywhere. The papers count trainable weights: `describe(name)` reports them
as "trainable_parameters" ("parameters" adds the batch-norm statistics).
"""

import math

import keras
from keras import ops

import layers
from layers.transformer import encoder_stack
from layers.validation import check_heads_divide, check_positive_int, check_rate, is_int
from zoo.checkpoints import (
    BATCH_NORM, CLASS_TOKEN, CONV, DENSE, FUSED_ATTENTION, INPUT_CONV, LAYER_NORM, POINTWISE, POSITIONS, Layout, Rule,
    loads,
)
from zoo.registry import register

TASK = "image-recognition"
ATTENTION = (None, "se", "eca", "cbam")
HE = "He et al. 2016, Deep Residual Learning for Image Recognition"
CIFAR = f"{HE} (CIFAR-10 ResNet, Section 4.2, option A shortcuts)"


@keras.saving.register_keras_serializable(package="zoo")
class ZeroPaddingShortcut(keras.layers.Layer):
    """He et al.'s option A shortcut: subsample by `stride`, pad the new channels with zeros (no weights)."""

    def __init__(self, channels, stride, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.stride = stride

    def call(self, inputs):
        x = inputs[:, :: self.stride, :: self.stride, :]
        extra = self.channels - inputs.shape[-1]
        return ops.pad(x, [(0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)])

    def compute_output_shape(self, input_shape):
        def reduce(size):
            return None if size is None else -(-size // self.stride)

        return (input_shape[0], reduce(input_shape[1]), reduce(input_shape[2]), self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "stride": self.stride}


def _check_attention(attention, reduction):
    """`attention` is one of `ATTENTION`; `reduction`, SE's and CBAM's ratio r, is None (the layers'
    16) or a positive integer, and None for ECA and plain blocks, which reduce nothing."""
    if attention not in ATTENTION:
        raise ValueError(f"`attention` must be one of {ATTENTION}; received attention={attention!r}.")
    if reduction is not None and attention not in ("se", "cbam"):
        raise ValueError(
            f"`reduction` is the ratio of SE and CBAM blocks; attention={attention!r} has none "
            f"(received reduction={reduction!r}; leave it None)."
        )
    check_positive_int(optional=True, reduction=reduction)


def _check_input_shape(input_shape, any_size=False):
    """Raises `ValueError` unless `input_shape` is `(height, width, channels)` of positive integers;
    `any_size=True` (convolutional networks) admits None for the height and width."""

    def size(n, may_be_none):
        return (may_be_none and n is None) or (is_int(n) and n > 0)

    if not (
        isinstance(input_shape, (list, tuple))
        and len(input_shape) == 3
        and all(size(n, any_size) for n in input_shape[:2])
        and size(input_shape[2], False)
    ):
        sizes = "positive integers (height and width may be None)" if any_size else "positive integers"
        raise ValueError(f"`input_shape` must be (height, width, channels), {sizes}; received input_shape={input_shape!r}.")


def _attention_block(x, attention, reduction, name):
    """The attention module of a residual branch (applied before the addition, as in the papers)."""
    ratio = {} if reduction is None else {"ratio": reduction}
    if attention == "se":
        return layers.SqueezeExcitation(**ratio, name=f"{name}_se")(x)
    if attention == "eca":
        return layers.EfficientChannelAttention(name=f"{name}_eca")(x)
    if attention == "cbam":
        return layers.CBAM(**ratio, name=f"{name}_cbam")(x)
    return x


def _conv_bn(x, filters, kernel_size, stride, name, relu=True):
    """Convolution, batch norm, ReLU. A strided convolution pads `kernel_size // 2` pixels on every side, as
    the papers' Caffe and Torch models do, so that output pixel `i` is centred on input pixel `stride * i`,
    the one a strided shortcut keeps; Keras' "same" padding of an even-sized input pads only the bottom
    and right, which moves every window one pixel off the shortcut."""
    padding = "same"
    if stride > 1 and kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters, kernel_size, stride, padding=padding, use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _classifier(x, num_classes):
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)


@register("resnet20", task=TASK, paper=CIFAR)
def cifar_resnet(depth=20, attention=None, reduction=None, input_shape=(32, 32, 3), num_classes=10):
    """ResNet for 32x32 images (He et al., 2016, Section 4.2): depth ``6n + 2``.

    A 3x3 convolution with 16 filters, three stages of `n` basic blocks (two
    3x3 convolutions) with 16, 32 and 64 filters (stride 2 between stages),
    global average pooling and a linear classifier. Shortcuts are identities,
    subsampled and zero-padded where the shape changes (option A: no weights).
    `attention` puts an SE (Hu et al., 2018), ECA (Wang et al., 2020) or CBAM
    (Woo et al., 2018) module on every residual branch before the addition,
    ``y = ReLU(shortcut(x) + A(F(x)))`` with `F` the two convolutions;
    `reduction` is the SE/CBAM ratio r (None: 16, the papers'); ECA has none.

    Trainable parameters: ResNet-20 0.27M, ResNet-56 0.85M, ResNet-110 1.7M (Table 6).
    """
    _check_attention(attention, reduction)
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"`depth` must be 6n + 2 (20, 32, 44, 56, 110, ...); received depth={depth!r}.")
    check_positive_int(num_classes=num_classes)
    _check_input_shape(input_shape, any_size=True)
    blocks = (depth - 2) // 6
    images = keras.Input(shape=input_shape, name="images")
    x = _conv_bn(images, 16, 3, 1, "stem")
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(blocks):
            name = f"stage{stage + 1}_block{block + 1}"
            stride = 2 if stage > 0 and block == 0 else 1
            shortcut = x if stride == 1 else ZeroPaddingShortcut(filters, stride, name=f"{name}_shortcut")(x)
            y = _conv_bn(x, filters, 3, stride, f"{name}_1")
            y = _conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
            y = _attention_block(y, attention, reduction, name)
            x = keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))
    return keras.Model(images, _classifier(x, num_classes))


register("resnet56", task=TASK, paper=CIFAR, depth=56)(cifar_resnet)
SE = "Hu et al. 2018, Squeeze-and-Excitation Networks"
for _depth in (20, 56, 110):
    register(f"se_resnet{_depth}", task=TASK, paper=f"{SE}; {CIFAR}", depth=_depth, attention="se")(cifar_resnet)
register(
    "eca_resnet20", task=TASK, paper=f"Wang et al. 2020, ECA-Net; {CIFAR}", attention="eca"
)(cifar_resnet)
register(
    "cbam_resnet20", task=TASK, paper=f"Woo et al. 2018, CBAM; {CIFAR}", attention="cbam"
)(cifar_resnet)


def _in_block(module):
    """The checkpoint module `module` of the torchvision block a zoo layer belongs to (zoo blocks count from 1)."""
    return lambda match: f"layer{match['stage']}.{int(match['block']) - 1}.{module.format(**match.groupdict())}"


def _resnet_checkpoints(configuration):
    """Why a ResNet configuration has no public checkpoint, or None."""
    if configuration["attention"] not in (None, "se"):
        return (
            f"no public ImageNet checkpoint has a ResNet-50 with {configuration['attention'].upper()} blocks as "
            "built here (timm's ecaresnet50d has a deep stem and average-pooled shortcuts; timm and torchvision "
            "publish no CBAM ResNet); load a resnet50 checkpoint into resnet50, or seresnet50 into se_resnet50"
        )
    return None


_BLOCK = r"stage(?P<stage>\d+)_block(?P<block>\d+)_"
RESNET_LAYOUT = Layout(
    "torchvision / timm ResNet",
    (
        Rule("stem_conv", "conv1", INPUT_CONV),
        Rule("stem_bn", "bn1", BATCH_NORM),
        Rule(_BLOCK + r"(?P<i>\d)_conv", _in_block("conv{i}"), CONV),
        Rule(_BLOCK + r"(?P<i>\d)_bn", _in_block("bn{i}"), BATCH_NORM),
        Rule(_BLOCK + "projection_conv", _in_block("downsample.0"), CONV),
        Rule(_BLOCK + "projection_bn", _in_block("downsample.1"), BATCH_NORM),
        Rule(_BLOCK + "se/reduce", _in_block("se.fc1"), POINTWISE),  # timm's SE: 1x1 convolutions with biases
        Rule(_BLOCK + "se/expand", _in_block("se.fc2"), POINTWISE),
        Rule("logits", "fc", DENSE, head=True),
    ),
    supports=_resnet_checkpoints,
)


@register("resnet50", task=TASK, paper=f"{HE} (ImageNet ResNet-50, Table 1)")
@loads(RESNET_LAYOUT)
def bottleneck_resnet(
    blocks=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    attention=None,
    reduction=None,
    input_shape=(224, 224, 3),
    num_classes=1000,
):
    """ImageNet ResNet with bottleneck blocks (He et al., 2016, Table 1): ResNet-50 by default.

    A 7x7/2 convolution with 64 filters and a 3x3/2 max pooling, four stages
    of `blocks` bottleneck blocks (1x1, 3x3, 1x1 convolutions; `widths`
    64, 128, 256, 512, expanded 4x; the stride on the 3x3 convolution, as in
    torchvision's "ResNet v1.5", where the paper strides the first 1x1),
    projection shortcuts (1x1 convolution + batch norm) where the shape changes,
    global average pooling and a linear classifier. `attention` as in
    `cifar_resnet`, on the expanded output of each residual branch.

    Exactly torchvision's `resnet50` and timm's `resnet50` (and, with SE, timm's
    `seresnet50`, whose SE bottleneck has C / 16 channels like this one's):
    `weights=` loads their checkpoints (`RESNET_LAYOUT`).

    Trainable parameters at 224x224x3 and 1000 classes: ResNet-50 25.56M,
    SE-ResNet-50 28.09M (Hu et al.'s reduction-ratio ablation, r = 16: 28.1M),
    CBAM-ResNet-50 28.09M (Woo et al., Table 4), ECA-ResNet-50 25.56M (Wang et al.,
    Table 2).
    """
    _check_attention(attention, reduction)
    if not isinstance(blocks, (list, tuple)) or len(blocks) != 4:
        raise ValueError(
            f"`blocks` must give the number of blocks of each of the 4 stages, e.g. (3, 4, 6, 3) for ResNet-50; "
            f"received blocks={blocks!r}."
        )
    if not isinstance(widths, (list, tuple)) or len(widths) != 4:
        raise ValueError(f"`widths` must give the width of each of the 4 stages, e.g. (64, 128, 256, 512); received widths={widths!r}.")
    check_positive_int(
        num_classes=num_classes,
        **{f"blocks[{i}]": n for i, n in enumerate(blocks)},
        **{f"widths[{i}]": n for i, n in enumerate(widths)},
    )
    _check_input_shape(input_shape, any_size=True)
    images = keras.Input(shape=input_shape, name="images")
    x = _conv_bn(images, 64, 7, 2, "stem")
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)  # after a ReLU, so a zero never wins the max
    x = keras.layers.MaxPooling2D(3, 2, name="stem_pool")(x)
    for stage, (count, width) in enumerate(zip(blocks, widths)):
        for block in range(count):
            name = f"stage{stage + 1}_block{block + 1}"
            stride = 2 if stage > 0 and block == 0 else 1
            shortcut = x
            if block == 0:
                shortcut = _conv_bn(x, 4 * width, 1, stride, f"{name}_projection", relu=False)
            y = _conv_bn(x, width, 1, 1, f"{name}_1")
            y = _conv_bn(y, width, 3, stride, f"{name}_2")
            y = _conv_bn(y, 4 * width, 1, 1, f"{name}_3", relu=False)
            y = _attention_block(y, attention, reduction, name)
            x = keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))
    return keras.Model(images, _classifier(x, num_classes))


register("se_resnet50", task=TASK, paper=f"{SE} (Table 2)", attention="se")(bottleneck_resnet)
register("eca_resnet50", task=TASK, paper="Wang et al. 2020, ECA-Net (Table 2)", attention="eca")(bottleneck_resnet)
register("cbam_resnet50", task=TASK, paper="Woo et al. 2018, CBAM (Table 4)", attention="cbam")(bottleneck_resnet)


VIT = "Dosovitskiy et al. 2021, An Image is Worth 16x16 Words (Table 1)"
DEIT = "Touvron et al. 2021, Training data-efficient image transformers (Table 1)"


VIT_LAYOUT = Layout(
    "timm VisionTransformer",
    (
        Rule("patch_embedding", "patch_embed.proj", INPUT_CONV),
        Rule("class_token", "", CLASS_TOKEN),
        Rule("position_embedding", "", POSITIONS),
        Rule(r"encoder_(?P<i>\d+)/self_attention", "blocks.{i}.attn", FUSED_ATTENTION),
        Rule(r"encoder_(?P<i>\d+)/self_attention_norm", "blocks.{i}.norm1", LAYER_NORM),
        Rule(r"encoder_(?P<i>\d+)/feedforward_norm", "blocks.{i}.norm2", LAYER_NORM),
        Rule(r"encoder_(?P<i>\d+)/feedforward_inner", "blocks.{i}.mlp.fc1", DENSE),
        Rule(r"encoder_(?P<i>\d+)/feedforward_outer", "blocks.{i}.mlp.fc2", DENSE),
        Rule("encoder_norm", "norm", LAYER_NORM),
        Rule("logits", "head", DENSE, head=True),
    ),
    supports=lambda configuration: (
        "Linformer's sequence projections have no counterpart in timm's ViT (full, window and Performer attention "
        "use the checkpoint's weights as they are)" if configuration["attention"] == "linformer" else None
    ),
)


@register("vit_base_patch16", task=TASK, paper=f"{VIT}: ViT-B/16")
@loads(VIT_LAYOUT)
def vision_transformer(
    patch_size=16,
    hidden_dim=768,
    num_layers=12,
    num_heads=12,
    intermediate_dim=3072,
    dropout=0.0,
    attention_dropout=0.0,
    input_shape=(224, 224, 3),
    num_classes=1000,
    attention="full",
    attention_options=None,
):
    """Vision Transformer (Dosovitskiy et al., 2021): patches + class token + positions -> pre-LN encoder.

    ``z_0 = [x_class; x_p E] + E_pos``; `num_layers` pre-LN encoder blocks
    (GELU MLP, LayerNorm epsilon 1e-6); the final LayerNorm of the class
    token's output goes to a linear classifier (Eq. 1-4). `dropout` acts on
    the embeddings and on each block's two residual updates (the paper's
    Appendix B.1 also drops the MLP's hidden layer); `attention_dropout` on the
    attention weights, which the paper and timm leave alone (0: training runs
    the fused attention kernel). `attention` picks each block's self-attention
    over the patch sequence (class token first, then the patches row by row):
    "full", "linformer", "window" or "performer" with `attention_options`
    (`layers.TransformerEncoderBlock`; Linformer's `max_length` is the token count; `sharing="layerwise"`
    gives all blocks one projection).

    Exactly timm's `VisionTransformer` (`vit_*_patch16_224`, `deit_*_patch16_224`:
    LayerNorm epsilon 1e-6, exact GELU, fused qkv with biases): `weights=` loads
    their checkpoints (`VIT_LAYOUT`), at another image size with the position
    table resampled as timm's loader does.

    Trainable parameters at 224x224x3, 1000 classes: ViT-B/16 86.6M (paper:
    86M), DeiT-Ti 5.7M and DeiT-S 22.1M (Touvron et al., Table 1: 5M and 22M;
    timm's deit_tiny/small: 5.7M and 22.1M).
    """
    # `patch_size` and `intermediate_dim` are checked by the layers that take them, under these names.
    check_positive_int(hidden_dim=hidden_dim, num_layers=num_layers, num_heads=num_heads, num_classes=num_classes)
    check_heads_divide(hidden_dim, num_heads)
    check_rate(dropout=dropout, attention_dropout=attention_dropout)  # Keras' Dropout would call it `rate`
    _check_input_shape(input_shape)
    images = keras.Input(shape=input_shape, name="images")
    patch_embedding = layers.PatchEmbedding(patch_size, hidden_dim, name="patch_embedding")
    x = patch_embedding(images)  # checks that the patches tile the image
    grid = tuple(size // patch for size, patch in zip(input_shape, patch_embedding.patch_size))
    x = layers.ClassToken(name="class_token")(x)
    x = layers.PositionEmbedding2D(grid, name="position_embedding")(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    x = encoder_stack(
        x,
        num_layers,
        num_heads,
        intermediate_dim,
        sequence_length=1 + math.prod(grid),
        attention=attention,
        attention_options=attention_options,
        dropout=dropout,
        attention_dropout=attention_dropout,
        activation="gelu",
        norm_first=True,
        layer_norm_epsilon=1e-6,
    )
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    class_output = x[:, 0]
    return keras.Model(images, keras.layers.Dense(num_classes, dtype="float32", name="logits")(class_output))


register("vit_tiny_patch16", task=TASK, paper=f"{DEIT}: DeiT-Ti", hidden_dim=192, num_heads=3, intermediate_dim=768)(
    vision_transformer
)
register("vit_small_patch16", task=TASK, paper=f"{DEIT}: DeiT-S", hidden_dim=384, num_heads=6, intermediate_dim=1536)(
    vision_transformer
)
SMALL_IMAGES = {
    "patch_size": 4, "hidden_dim": 192, "num_layers": 6, "num_heads": 3, "intermediate_dim": 384, "dropout": 0.1,
    "input_shape": (28, 28, 1), "num_classes": 10,
}
register("vit_small_images", task=TASK, paper=f"{VIT}, with 4x4 patches for 28x28 and 32x32 images", **SMALL_IMAGES)(
    vision_transformer
)

# vit_small_images with each efficient attention over its 50 tokens (49 patches of a 28x28 image, the class token).
for _attention, _options, _paper in (
    ("linformer", {"projected_length": 16}, "Wang et al. 2020, Linformer"),
    ("window", {"window": 7}, "Beltagy et al. 2020, Longformer (sliding-window attention, 7 tokens: a row of patches)"),
    ("performer", {"num_features": 128}, "Choromanski et al. 2021, Performers (FAVOR+)"),
):
    register(
        f"vit_small_images_{_attention}", task=TASK, paper=f"{VIT}, with 4x4 patches; {_paper}", **SMALL_IMAGES,
        attention=_attention, attention_options=_options,
    )(vision_transformer)
