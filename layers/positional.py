"""Position information for sequence models: fixed sinusoids and learned tables."""

import math

import keras
from keras import ops

from layers.validation import check_positive_int, check_token_ids


@keras.saving.register_keras_serializable(package="layers")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Fixed sinusoidal position encoding (Vaswani et al., 2017, Section 3.5).

    ``PE(pos, 2i) = sin(pos / w^(2i/d))``, ``PE(pos, 2i+1) = cos(pos / w^(2i/d))``
    with ``w = max_wavelength`` (10000 in the paper) and ``d`` the feature width.
    The layer returns the encoding (it has no weights); add it to the inputs.

    Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Args:
        max_wavelength: the longest wavelength `w`.

    Call arguments:
        inputs: `(batch, T, d)`; only the shape is used.
        start_index: position of the first step (for incremental decoding).

    Returns:
        The encoding, broadcast to the shape of `inputs`.

    Example:

    >>> x = keras.random.normal((2, 10, 16))
    >>> x = x + SinusoidalPositionEncoding()(x)
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        if not max_wavelength > 1:
            raise ValueError(f"`max_wavelength` must be > 1; received max_wavelength={max_wavelength!r}.")
        self.max_wavelength = max_wavelength
        self.supports_masking = True

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        length, width = shape[-2], shape[-1]
        positions = ops.cast(ops.arange(length) + start_index, "float32")
        channels = ops.arange(width)
        # 2i for both members of a sin/cos pair.
        even_channel = ops.cast(channels - channels % 2, "float32")
        inverse_wavelengths = ops.exp(even_channel * (-math.log(self.max_wavelength) / width))
        angles = ops.expand_dims(positions, 1) * ops.expand_dims(inverse_wavelengths, 0)
        encoding = ops.where(channels % 2 == 0, ops.sin(angles), ops.cos(angles))
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="layers")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute position embedding: ``PE(pos) = E[pos]``, ``E`` of shape ``(L, d)``.

    As in BERT (Devlin et al., 2019) and the learned variant compared in Vaswani
    et al. (2017), Table 3 row (E). Returns the embedding; add it to the inputs.

    Args:
        sequence_length: the longest sequence `L` the table covers.
        initializer: initializer of the table.

    Call arguments:
        inputs: `(batch, T, d)` with `T <= sequence_length - start_index`.
        start_index: position of the first step (for incremental decoding).

    Returns:
        The embeddings of positions `start_index .. start_index + T - 1`,
        broadcast to the shape of `inputs`.

    Example:

    >>> x = keras.random.normal((2, 10, 16))
    >>> x = x + PositionEmbedding(sequence_length=64)(x)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int(sequence_length=sequence_length)
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        length = input_shape[-2]
        if length is not None and length > self.sequence_length:
            raise ValueError(
                f"Inputs have {length} positions but PositionEmbedding covers sequence_length="
                f"{self.sequence_length}; build it with a larger `sequence_length`."
            )
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.sequence_length, input_shape[-1]), initializer=self.initializer
        )

    def call(self, inputs, start_index=0):
        length = inputs.shape[-2]
        if length is not None and isinstance(start_index, int) and start_index + length > self.sequence_length:
            raise ValueError(
                f"Positions {start_index}..{start_index + length - 1} are past the table of PositionEmbedding, "
                f"which covers sequence_length={self.sequence_length} positions (0..{self.sequence_length - 1}); "
                "build it with a larger `sequence_length`, or pass shorter inputs."
            )
        shape = ops.shape(inputs)
        table = ops.slice(ops.convert_to_tensor(self.embeddings), (start_index, 0), (shape[-2], shape[-1]))
        return ops.broadcast_to(ops.cast(table, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }


POSITION_ENCODINGS = ("learned", "sinusoidal")


@keras.saving.register_keras_serializable(package="layers")
class TokenEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` that refuses token ids outside its vocabulary: ``x_t = E[w_t]``.

    Backends disagree on an id past the table: TensorFlow raises on CPU and
    returns zeros on GPU, JAX returns NaN, and a negative id silently reads a
    row from the end on JAX. Here an eager call raises `ValueError` naming the
    id, its position and the allowed range; inside a compiled function (where
    ids cannot be read) the row of such an id is NaN on every backend, so the
    outputs show it and training stops at it (`recipes.training.StopOnNonFinite`).

    Args:
        input_dim: vocabulary size; ids must lie in ``[0, input_dim)``.
        output_dim: embedding width.
        **kwargs: the other arguments of `keras.layers.Embedding` (`mask_zero`, ...).

    Call arguments:
        inputs: integer token ids of any shape.

    Returns:
        `inputs.shape + (output_dim,)`; with `mask_zero` the Keras mask `inputs != 0`.

    Example:

    >>> embed = TokenEmbedding(100, 8)
    >>> tuple(embed(keras.ops.array([[5, 99]])).shape)
    (1, 2, 8)
    """

    def call(self, inputs):
        check_token_ids(inputs, self.input_dim, self.name)
        inside = ops.logical_and(ops.greater_equal(inputs, 0), ops.less(inputs, self.input_dim))
        rows = super().call(ops.where(inside, inputs, 0))
        return ops.where(ops.expand_dims(inside, -1), rows, ops.cast(float("nan"), rows.dtype))


@keras.saving.register_keras_serializable(package="layers")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus position encoding: ``x_t = s * E_tok[w_t] + PE(t)``.

    ``s = sqrt(d)`` when `scale_embeddings` (Vaswani et al., 2017, Section 3.4),
    else 1. ``PE`` is learned (`PositionEmbedding`) or fixed
    (`SinusoidalPositionEncoding`). With `mask_zero=True` token id 0 is padding
    and the layer emits the padding mask, so downstream attention ignores it.

    Args:
        vocabulary_size: number of token ids.
        sequence_length: longest sequence (size of the learned position table).
        embedding_dim: width `d`.
        mask_zero: treat id 0 as padding and propagate the mask.
        position_encoding: `"learned"` or `"sinusoidal"`.
        scale_embeddings: multiply token embeddings by `sqrt(d)`.
        embeddings_initializer: initializer of the token table.

    Call arguments:
        inputs: integer token ids `(batch, T)`, or states `(batch, T, d)` with
            `reverse=True`.
        start_index: position of the first token (for incremental decoding).
        reverse: map states to logits over the vocabulary with the transposed
            token table, ``logits = h E_tok^T`` (weight tying: Press & Wolf,
            2017; Vaswani et al., 2017, Section 3.4). With `mask_zero` the
            Keras mask of the states passes through.

    Returns:
        `(batch, T, embedding_dim)`, its Keras mask `inputs != 0` when
        `mask_zero`; with `reverse=True`, `(batch, T, vocabulary_size)`.

    Example:

    >>> embed = TokenAndPositionEmbedding(1000, 64, 32, mask_zero=True)
    >>> tuple(embed(keras.ops.array([[5, 9, 0, 0]])).shape)
    (1, 4, 32)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        mask_zero=False,
        position_encoding="learned",
        scale_embeddings=False,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(
            vocabulary_size=vocabulary_size, sequence_length=sequence_length, embedding_dim=embedding_dim
        )
        if position_encoding not in POSITION_ENCODINGS:
            raise ValueError(
                f"`position_encoding` must be one of {POSITION_ENCODINGS}; "
                f"received position_encoding={position_encoding!r}."
            )
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.mask_zero = mask_zero
        self.position_encoding = position_encoding
        self.scale_embeddings = scale_embeddings
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = mask_zero
        self.token_embedding = TokenEmbedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            name="token_embedding",
            dtype=self.dtype_policy,
        )
        if position_encoding == "learned":
            self.position_embedding = PositionEmbedding(
                sequence_length, name="position_embedding", dtype=self.dtype_policy
            )
        else:
            self.position_embedding = SinusoidalPositionEncoding(name="position_embedding", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build(tuple(input_shape) + (self.embedding_dim,))

    def call(self, inputs, start_index=0, reverse=False):
        if reverse:
            table = ops.cast(self.token_embedding.embeddings, inputs.dtype)
            return ops.matmul(inputs, ops.transpose(table))
        tokens = self.token_embedding(inputs)
        if self.scale_embeddings:
            tokens = tokens * ops.cast(math.sqrt(self.embedding_dim), tokens.dtype)
        return tokens + self.position_embedding(tokens, start_index=start_index)

    def compute_mask(self, inputs, mask=None):
        if "int" not in str(inputs.dtype):
            return mask  # reverse: the states' mask passes through
        return ops.not_equal(inputs, 0) if self.mask_zero else None

    def compute_output_spec(self, inputs, start_index=0, reverse=False):
        if reverse:
            return keras.KerasTensor(tuple(inputs.shape[:-1]) + (self.vocabulary_size,), dtype=self.compute_dtype)
        return keras.KerasTensor(tuple(inputs.shape) + (self.embedding_dim,), dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "sequence_length": self.sequence_length,
            "embedding_dim": self.embedding_dim,
            "mask_zero": self.mask_zero,
            "position_encoding": self.position_encoding,
            "scale_embeddings": self.scale_embeddings,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
