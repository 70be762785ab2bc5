"""Vision Transformer input layers: patch embedding, class token, learned 2-D position embedding."""

import keras
from keras import ops

from layers.validation import check_positive_int


def _pair(value, name):
    pair = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"`{name}` must be an int or a pair of ints; received {name}={value!r}.")
    check_positive_int(**{f"{name}[0]": pair[0], f"{name}[1]": pair[1]})
    return pair


@keras.saving.register_keras_serializable(package="layers")
class PatchEmbedding(keras.layers.Layer):
    """Cuts an image into non-overlapping patches and projects each to `hidden_dim` (Dosovitskiy et al., 2021).

    ``z_n = E flatten(x_n) + b`` for the `P x P` patches ``x_n`` in row-major
    order, computed as a convolution with kernel size and stride `P`;
    `(batch, H, W, C)` -> `(batch, (H/P)(W/P), hidden_dim)`.

    Paper: Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for
    Image Recognition at Scale", ICLR 2021 (Eq. 1).

    Args:
        patch_size: `P`, an int or `(P_h, P_w)`; must divide the image size.
        hidden_dim: width `D` of the patch embeddings.
        use_bias: add `b`.
        kernel_initializer: initializer of `E`.

    Call arguments:
        inputs: `(batch, H, W, C)` images.

    Returns:
        `(batch, N, hidden_dim)` with `N = (H / P_h) (W / P_w)`.

    Example:

    >>> embed = PatchEmbedding(patch_size=4, hidden_dim=64)
    >>> tuple(embed(keras.random.normal((2, 28, 28, 1))).shape)
    (2, 49, 64)
    """

    def __init__(self, patch_size, hidden_dim, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.patch_size = _pair(patch_size, "patch_size")
        check_positive_int(hidden_dim=hidden_dim)
        self.hidden_dim = hidden_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"PatchEmbedding takes images (batch, H, W, C); received shape {tuple(input_shape)}.")
        for size, patch, axis in zip(input_shape[1:3], self.patch_size, ("height", "width")):
            if size is not None and size % patch:
                raise ValueError(
                    f"Image {axis} {size} is not divisible by the patch size {patch}; "
                    f"use an image size that is a multiple of {patch}."
                )
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.patch_size, input_shape[-1], self.hidden_dim), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(self.hidden_dim,), initializer="zeros") if self.use_bias else None

    def call(self, inputs):
        patches = ops.conv(inputs, self.kernel, strides=self.patch_size, padding="valid")
        if self.bias is not None:
            patches = patches + self.bias
        return ops.reshape(patches, (ops.shape(patches)[0], -1, self.hidden_dim))

    def compute_output_shape(self, input_shape):
        height, width = input_shape[1:3]
        count = None if height is None or width is None else (height // self.patch_size[0]) * (width // self.patch_size[1])
        return (input_shape[0], count, self.hidden_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "hidden_dim": self.hidden_dim,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="layers")
class ClassToken(keras.layers.Layer):
    """Prepends a learned token to a sequence: `(batch, N, D)` -> `(batch, N + 1, D)` (ViT's ``x_class``).

    The Transformer's output at this position is the image representation
    (Dosovitskiy et al., 2021, Eq. 1 and 4). Initialized to zeros, as in the
    paper's code. The recipes' optimizers keep the weight, named `class_token`,
    from weight decay, as DeiT does.

    Call arguments:
        inputs: `(batch, N, D)` patch embeddings.

    Returns:
        `(batch, N + 1, D)`: the learned token `(D,)` first, then `inputs`.

    Example:

    >>> tuple(ClassToken()(keras.random.normal((2, 49, 64))).shape)
    (2, 50, 64)
    """

    def build(self, input_shape):
        self.token = self.add_weight(name="class_token", shape=(1, 1, input_shape[-1]), initializer="zeros")

    def call(self, inputs):
        token = ops.broadcast_to(ops.cast(self.token, inputs.dtype), (ops.shape(inputs)[0], 1, inputs.shape[-1]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


def resample_grid(table, num_prefix_tokens, grid_size, new_grid_size, interpolation="bilinear", antialias=False):
    """A position table `(prefix + rows * columns, D)` of a `grid_size` grid for a `new_grid_size` grid:
    the prefix rows copied, the grid's rows resized as an image (`keras.ops.image.resize`)."""
    width = table.shape[-1]
    prefix, grid = table[:num_prefix_tokens], table[num_prefix_tokens:]
    grid = ops.image.resize(
        ops.reshape(grid, (1, *grid_size, width)), new_grid_size, interpolation=interpolation, antialias=antialias
    )
    return ops.concatenate([prefix, ops.reshape(grid, (-1, width))], axis=0)


@keras.saving.register_keras_serializable(package="layers")
class PositionEmbedding2D(keras.layers.Layer):
    """Learned position embeddings for a grid of patches, added to the tokens (ViT's ``E_pos``).

    The table has one row per prefix token (the class token) and one per patch
    of a `grid_size` grid, row-major. `resize(new_grid_size)` returns a layer
    for another image size whose patch rows are the bilinear interpolation of
    this grid (Dosovitskiy et al., 2021, Section 3.2, fine-tuning at higher
    resolution); the prefix rows are copied. The recipes' optimizers keep the
    table, named `position_table`, from weight decay, as DeiT does.

    Args:
        grid_size: `(rows, columns)` of patches, or an int for a square grid.
        num_prefix_tokens: tokens before the patches (1 with a class token).
        initializer: initializer of the table (DeiT and timm: truncated normal, std 0.02;
            ViT's reference code: normal, std 0.02).

    Call arguments:
        inputs: `(batch, num_prefix_tokens + rows * columns, D)`.

    Returns:
        `inputs` plus the table.

    Example:

    >>> positions = PositionEmbedding2D(grid_size=7)
    >>> tokens = positions(keras.random.normal((2, 50, 64)))
    >>> tuple(positions.resize(8).table.shape)
    (65, 64)
    """

    def __init__(self, grid_size, num_prefix_tokens=1, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = _pair(grid_size, "grid_size")
        if not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
            raise ValueError(f"`num_prefix_tokens` must be an int >= 0; received {num_prefix_tokens!r}.")
        self.num_prefix_tokens = num_prefix_tokens
        self.initializer = keras.initializers.get(initializer or keras.initializers.TruncatedNormal(stddev=0.02))

    @property
    def length(self):
        return self.num_prefix_tokens + self.grid_size[0] * self.grid_size[1]

    def build(self, input_shape):
        if input_shape[1] is not None and input_shape[1] != self.length:
            raise ValueError(
                f"PositionEmbedding2D for a {self.grid_size[0]}x{self.grid_size[1]} grid and "
                f"{self.num_prefix_tokens} prefix token(s) needs {self.length} tokens; received {input_shape[1]}. "
                "For another image size use `resize(grid_size)`."
            )
        self.table = self.add_weight(name="position_table", shape=(self.length, input_shape[-1]), initializer=self.initializer)

    def call(self, inputs):
        return inputs + ops.cast(self.table, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def resize(self, grid_size, interpolation="bilinear", antialias=False):
        """A built `PositionEmbedding2D` for `grid_size` whose table is this one's, interpolated
        (`resample_grid`; timm resamples pretrained tables "bicubic" with `antialias=True`)."""
        grid_size = _pair(grid_size, "grid_size")
        width = self.table.shape[-1]
        resized = PositionEmbedding2D(
            grid_size, self.num_prefix_tokens, self.initializer, name=self.name, dtype=self.dtype_policy
        )
        resized.build((None, None, width))
        resized.table.assign(
            resample_grid(self.table, self.num_prefix_tokens, self.grid_size, grid_size, interpolation, antialias)
        )
        return resized

    def get_config(self):
        return {
            **super().get_config(),
            "grid_size": self.grid_size,
            "num_prefix_tokens": self.num_prefix_tokens,
            "initializer": keras.initializers.serialize(self.initializer),
        }
