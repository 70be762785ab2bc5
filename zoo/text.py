"""Text classifiers: BiLSTM with attention pooling, and Transformer encoders."""

import keras

import layers
from layers.transformer import encoder_stack
from layers.validation import check_heads_divide, check_positive_int, check_rate
from zoo.registry import register

TASK = "text-classification"


def _token_input(sequence_length=None):
    return keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")


def _classifier_head(x, num_classes, dropout):
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)  # float32 under mixed precision too


@register(
    "bilstm_attention",
    task=TASK,
    paper="Zhou et al. 2016, Attention-Based Bidirectional Long Short-Term Memory Networks for Relation Classification",
)
def bilstm_attention(
    vocab_size=20000,
    sequence_length=None,
    num_classes=2,
    embedding_dim=128,
    lstm_units=128,
    attention_units=None,
    embedding_dropout=0.3,
    lstm_dropout=0.3,
    dropout=0.5,
):
    """Embedding -> BiLSTM -> attention pooling -> tanh -> softmax classifier (Zhou et al., 2016).

    The forward and backward LSTM outputs are summed element-wise (the paper's
    Eq. 7-8), pooled with ``alpha = softmax(w^T tanh(H))`` and passed through
    ``tanh``; dropout on embeddings, LSTM outputs and the penultimate layer as in
    the paper. Embeddings are learned from scratch. Outputs logits.
    `sequence_length=None` accepts any length; token id 0 is padding.
    """
    check_positive_int(vocab_size=vocab_size, num_classes=num_classes, embedding_dim=embedding_dim, lstm_units=lstm_units)
    check_positive_int(optional=True, sequence_length=sequence_length, attention_units=attention_units)
    check_rate(embedding_dropout=embedding_dropout, lstm_dropout=lstm_dropout, dropout=dropout)
    tokens = _token_input(sequence_length)
    x = layers.TokenEmbedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    x = keras.layers.Dropout(embedding_dropout, name="embedding_dropout")(x)
    x = keras.layers.Bidirectional(
        keras.layers.LSTM(lstm_units, return_sequences=True), merge_mode="sum", name="bilstm"
    )(x)
    x = keras.layers.Dropout(lstm_dropout, name="lstm_dropout")(x)
    x = layers.AttentionPooling(attention_units, name="attention_pooling")(x)
    x = keras.layers.Activation("tanh", name="sentence_representation")(x)
    return keras.Model(tokens, _classifier_head(x, num_classes, dropout))


POOLINGS = ("mean", "attention")


@register(
    "transformer_classifier_tiny",
    task=TASK,
    paper="Vaswani et al. 2017, Attention Is All You Need (encoder only)",
)
def transformer_classifier(
    vocab_size=20000,
    sequence_length=128,
    num_classes=2,
    hidden_dim=128,
    num_layers=2,
    num_heads=2,
    intermediate_dim=256,
    dropout=0.1,
    attention_dropout=0.0,
    norm_first=False,
    pooling="mean",
    attention="full",
    attention_options=None,
):
    """Token + learned position embedding -> N Transformer encoder blocks -> pooling -> classifier.

    ``x_0 = E_tok[w] + E_pos[t]``, ``x_l = EncoderBlock_l(x_{l-1})`` (the encoder
    of Vaswani et al., 2017, Section 3.1; `layers.TransformerEncoderBlock`),
    ``logits = W pool(x_N) + b``.
    `pooling="mean"` averages the real (unpadded) positions; `"attention"` uses
    `layers.AttentionPooling`. `sequence_length` is the longest input the
    position table covers; token id 0 is padding. Outputs logits.
    `dropout` acts on the embedding sums, on each block's sublayer outputs
    before their residual sums (the paper's Section 5.4) and before the
    classifier; `attention_dropout` on the attention weights, which the paper
    leaves alone (0: training runs the fused attention kernel).
    `attention` picks each block's self-attention (`layers.TransformerEncoderBlock`):
    "full", or for long inputs "linformer" (Wang et al., 2020), "window" (local
    attention, Beltagy et al., 2020) or "performer" (Choromanski et al., 2021),
    with `attention_options` (Linformer's `max_length` is `sequence_length`; its `sharing="layerwise"`
    gives all blocks one projection, `layers.transformer.encoder_stack`).
    """
    # `sequence_length` and `intermediate_dim` are checked by the layers that take them, under these names;
    # `vocab_size` and `hidden_dim` are `vocabulary_size` and `embedding_dim` there, `num_classes` Dense's `units`.
    check_positive_int(
        vocab_size=vocab_size, num_classes=num_classes, hidden_dim=hidden_dim, num_layers=num_layers, num_heads=num_heads
    )
    check_heads_divide(hidden_dim, num_heads)
    check_rate(dropout=dropout, attention_dropout=attention_dropout)
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of {POOLINGS}; received pooling={pooling!r}.")
    tokens = _token_input()
    x = layers.TokenAndPositionEmbedding(vocab_size, sequence_length, hidden_dim, mask_zero=True, name="embedding")(
        tokens
    )
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    x = encoder_stack(
        x,
        num_layers,
        num_heads,
        intermediate_dim,
        sequence_length=sequence_length,
        attention=attention,
        attention_options=attention_options,
        dropout=dropout,
        attention_dropout=attention_dropout,
        norm_first=norm_first,
    )
    if norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    if pooling == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="pooling")(x)
    else:
        x = layers.AttentionPooling(name="pooling")(x)
    return keras.Model(tokens, _classifier_head(x, num_classes, dropout))


SMALL = {"hidden_dim": 256, "num_layers": 4, "num_heads": 4, "intermediate_dim": 1024}
register(
    "transformer_classifier_small", task=TASK, paper="Vaswani et al. 2017, Attention Is All You Need (encoder only)", **SMALL
)(transformer_classifier)

# The small classifier with each efficient attention: costs O(n k), O(n w), O(n m) instead of O(n^2).
for _name, _attention, _options, _paper in (
    ("linformer_classifier_small", "linformer", {"projected_length": 64}, "Wang et al. 2020, Linformer: Self-Attention with Linear Complexity"),
    ("window_transformer_classifier_small", "window", {"window": 16}, "Beltagy et al. 2020, Longformer (sliding-window attention)"),
    ("performer_classifier_small", "performer", {"num_features": 256}, "Choromanski et al. 2021, Rethinking Attention with Performers"),
):
    register(
        _name, task=TASK, paper=f"{_paper}; encoder of Vaswani et al. 2017", **SMALL, attention=_attention,
        attention_options=_options,
    )(transformer_classifier)
