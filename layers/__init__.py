"""Attention building blocks for Keras 3, written with `keras.ops` only.

Every attention layer shares one call convention::

    layer(query, value, key=None, *, query_mask=None, value_mask=None,
          attention_mask=None, use_causal_mask=False,
          return_attention_scores=False, training=None)

and honours implicit Keras masks (from `mask_zero=True` embeddings). Every layer
that takes `return_attention_scores` declares what its weights are, in
`attention_kinds` ("self", "cross", "alignment", "pooling", "channel",
"spatial", "projected", "window"; see `zoo.attention_maps`). The efficient
layers (`LinformerAttention`, `SlidingWindowAttention`, `PerformerAttention`)
cost O(n) in the sequence length, not O(n^2).
"""

from layers.additive import AdditiveAttention
from layers.base import SingleHeadAttention
from layers.channel import CBAM, EfficientChannelAttention, SqueezeExcitation
from layers.dot_product import DotProductAttention
from layers.efficient import LinformerAttention, LinformerProjection, PerformerAttention, SlidingWindowAttention
from layers.multi_head import MultiHeadAttention
from layers.patches import ClassToken, PatchEmbedding, PositionEmbedding2D
from layers.pooling import AttentionPooling
from layers.positional import PositionEmbedding, SinusoidalPositionEncoding, TokenAndPositionEmbedding, TokenEmbedding
from layers.recurrent import BahdanauDecoder, LuongDecoder
from layers.series import MaskedConv1D, SeriesPadding, SeriesStandardization
from layers.transformer import TransformerDecoderBlock, TransformerEncoderBlock

__all__ = [
    "AdditiveAttention",
    "AttentionPooling",
    "BahdanauDecoder",
    "CBAM",
    "ClassToken",
    "DotProductAttention",
    "EfficientChannelAttention",
    "LinformerAttention",
    "LinformerProjection",
    "LuongDecoder",
    "MaskedConv1D",
    "MultiHeadAttention",
    "PatchEmbedding",
    "PerformerAttention",
    "PositionEmbedding",
    "PositionEmbedding2D",
    "SeriesPadding",
    "SeriesStandardization",
    "SingleHeadAttention",
    "SinusoidalPositionEncoding",
    "SlidingWindowAttention",
    "SqueezeExcitation",
    "TokenAndPositionEmbedding",
    "TokenEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
]
