"""Time-series classifiers: a Transformer encoder over the time steps, FCN and ResNet with SE or ECA channel
attention, and a BiLSTM with attention pooling.

Every model takes "series" `(batch, T, C)` of C channels and any length T, each series padded after its end with NaN
(`layers.SeriesPadding`): padding never changes a prediction. Outputs logits.
"""

import keras

import layers
from layers.transformer import encoder_stack
from layers.validation import check_heads_divide, check_positive_int, check_rate, is_int
from zoo.registry import register

TASK = "time-series-classification"
CHANNEL_ATTENTION = (None, "se", "eca")
POOLINGS = ("attention", "mean")
# The batch norms' moving statistics follow the last ~10 steps, not Keras' ~100 (momentum 0.99): a UCR training set
# is a few batches, and after 40 epochs of GunPoint (120 steps) momentum 0.99 still held 5x the variance, which
# made every prediction the same.
BN_MOMENTUM = 0.9
WANG = "Wang, Yan, Oates 2017, Time Series Classification from Scratch with Deep Neural Networks: A Strong Baseline"
ZERVEAS = "Zerveas et al. 2021, A Transformer-based Framework for Multivariate Time Series Representation Learning"


def _padded_series(num_channels, num_classes):
    """The model's input, series of any length, and its values with the padding as 0 and masked (the sizes every
    builder takes, checked)."""
    check_positive_int(num_channels=num_channels, num_classes=num_classes)
    series = keras.Input(shape=(None, num_channels), name="series")
    return series, layers.SeriesPadding(name="padding")(series)


def _logits(x, num_classes):
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)  # float32 under mixed precision too


def _check_convolutions(attention, **widths):
    """`attention` is one of `CHANNEL_ATTENTION`; each of `widths` (filters, kernel sizes) a non-empty list of
    positive integers."""
    if attention not in CHANNEL_ATTENTION:
        raise ValueError(f"`attention` must be one of {CHANNEL_ATTENTION}; received attention={attention!r}.")
    for name, values in widths.items():
        if not (isinstance(values, (list, tuple)) and values and all(is_int(v) and v > 0 for v in values)):
            raise ValueError(f"`{name}` must be a non-empty list of positive integers; received {name}={values!r}.")


def _channel_attention(x, attention, name):
    """SE (Hu et al., 2018) or ECA (Wang et al., 2020) over the channels of `(batch, T, C)`, pooled over the real steps."""
    if attention == "se":
        return layers.SqueezeExcitation(name=f"{name}_se")(x)
    if attention == "eca":
        return layers.EfficientChannelAttention(name=f"{name}_eca")(x)
    return x


def _conv_bn(x, filters, kernel_size, name, relu=True):
    """Masked convolution ("same" padding), batch norm over the real steps, ReLU."""
    x = layers.MaskedConv1D(filters, kernel_size, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=1e-3, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _pooled_logits(x, num_classes):
    """Global average pooling over the real steps, then the classifier."""
    return _logits(keras.layers.GlobalAveragePooling1D(name="pool")(x), num_classes)


@register("se_fcn", task=TASK, paper=f"{WANG} (FCN); Karim et al. 2019, Multivariate LSTM-FCNs (SE blocks)", attention="se")
def fcn(num_channels=1, num_classes=2, filters=(128, 256, 128), kernel_sizes=(8, 5, 3), attention=None):
    """Fully convolutional network (Wang et al., 2017): convolution blocks (conv, batch norm, ReLU) of 128, 256 and
    128 filters with kernels 8, 5 and 3, global average pooling, classifier. `attention` adds SE or ECA channel
    attention after each block but the last, where Karim et al. (2019) put their squeeze-and-excite blocks."""
    _check_convolutions(attention, filters=filters, kernel_sizes=kernel_sizes)
    if len(filters) != len(kernel_sizes):
        raise ValueError(f"`filters` and `kernel_sizes` must be as many, one per block; received {filters!r} and {kernel_sizes!r}.")
    series, x = _padded_series(num_channels, num_classes)
    for index, (width, kernel_size) in enumerate(zip(filters, kernel_sizes)):
        x = _conv_bn(x, width, kernel_size, f"block{index}")
        if index < len(filters) - 1:
            x = _channel_attention(x, attention, f"block{index}")
    return keras.Model(series, _pooled_logits(x, num_classes))


register("eca_fcn", task=TASK, paper=f"{WANG} (FCN); Wang et al. 2020, ECA-Net", attention="eca")(fcn)


@register("resnet1d", task=TASK, paper=f"{WANG} (ResNet)")
def resnet1d(num_channels=1, num_classes=2, filters=(64, 128, 128), kernel_sizes=(8, 5, 3), attention=None):
    """ResNet for time series (Wang et al., 2017): residual blocks of 64, 128 and 128 filters, each three convolution
    blocks with kernels 8, 5 and 3 (the last without ReLU) added to a shortcut (a 1x1 convolution and batch norm
    where the width changes, else batch norm, as Ismail Fawaz et al.'s 2019 implementation), then ReLU; global
    average pooling, classifier. `attention` puts SE or ECA on each residual branch before the addition (as
    SE-ResNet, Hu et al., 2018)."""
    _check_convolutions(attention, filters=filters, kernel_sizes=kernel_sizes)
    series, x = _padded_series(num_channels, num_classes)
    for index, width in enumerate(filters):
        name = f"block{index}"
        shortcut = x
        for position, kernel_size in enumerate(kernel_sizes):
            x = _conv_bn(x, width, kernel_size, f"{name}_{position}", relu=position < len(kernel_sizes) - 1)
        x = _channel_attention(x, attention, name)
        if shortcut.shape[-1] != width:
            shortcut = layers.MaskedConv1D(width, 1, name=f"{name}_shortcut_conv")(shortcut)
        shortcut = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=1e-3, name=f"{name}_shortcut_bn")(shortcut)
        x = keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([x, shortcut]))
    return keras.Model(series, _pooled_logits(x, num_classes))


register("se_resnet1d", task=TASK, paper=f"{WANG} (ResNet); Hu et al. 2018, Squeeze-and-Excitation Networks", attention="se")(resnet1d)
register("eca_resnet1d", task=TASK, paper=f"{WANG} (ResNet); Wang et al. 2020, ECA-Net", attention="eca")(resnet1d)


@register("series_transformer", task=TASK, paper=ZERVEAS)
def series_transformer(
    num_channels=1,
    num_classes=2,
    sequence_length=None,
    hidden_dim=64,
    num_layers=3,
    num_heads=4,
    intermediate_dim=128,
    dropout=0.1,
    pooling="attention",
    attention="full",
    attention_options=None,
):
    """Transformer encoder over the time steps (Zerveas et al., 2021): each step's channels projected linearly to
    `hidden_dim`, plus the sinusoidal position encoding, N pre-LN encoder blocks over the real steps
    (`layers.TransformerEncoderBlock`), pooling, classifier.

    `pooling="attention"` (`layers.AttentionPooling`, Zhou et al., 2016) weighs the steps, which shows which part of
    a series decided its class; "mean" averages the real steps. `attention` picks the blocks' self-attention,
    "full" or for long series "linformer" (needs `sequence_length`, the longest series it will read: its
    projection's length), "window" or "performer", with `attention_options` (`layers.transformer.encoder_stack`).
    Other attention reads series of any length. Zerveas et al. use 3 layers of width 64 to 128.
    """
    check_positive_int(hidden_dim=hidden_dim, num_layers=num_layers, num_heads=num_heads)
    check_heads_divide(hidden_dim, num_heads)
    check_rate(dropout=dropout)
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of {POOLINGS}; received pooling={pooling!r}.")
    check_positive_int(optional=True, sequence_length=sequence_length)
    if attention == "linformer" and sequence_length is None and "max_length" not in (attention_options or {}):
        raise ValueError("attention='linformer' projects a fixed number of steps: give `sequence_length`, the longest series.")
    series, x = _padded_series(num_channels, num_classes)
    x = keras.layers.Dense(hidden_dim, name="input_projection")(x)
    x = keras.layers.Add(name="add_positions")([x, layers.SinusoidalPositionEncoding(name="position_encoding")(x)])
    x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    x = encoder_stack(
        x, num_layers, num_heads, intermediate_dim, sequence_length=sequence_length, attention=attention,
        attention_options=attention_options, dropout=dropout, norm_first=True, activation="gelu",
    )
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    if pooling == "attention":
        x = layers.AttentionPooling(name="attention_pooling")(x)
    else:
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.Model(series, _logits(x, num_classes))


# The encoder with each efficient attention: O(n k), O(n w), O(n m) in the series' length (Linformer with one
# projection for all layers, Wang et al. 2020, Section 4).
for _name, _attention, _options, _extra in (
    ("series_linformer", "linformer", {"projected_length": 64, "sharing": "layerwise"}, {"sequence_length": 512}),
    ("series_window_transformer", "window", {"window": 16}, {}),
    ("series_performer", "performer", {"num_features": 64}, {}),
):
    register(_name, task=TASK, paper=ZERVEAS, attention=_attention, attention_options=_options, **_extra)(series_transformer)


@register(
    "series_bilstm_attention",
    task=TASK,
    paper="Zhou et al. 2016, Attention-Based Bidirectional Long Short-Term Memory Networks for Relation Classification",
)
def series_bilstm_attention(num_channels=1, num_classes=2, lstm_units=64, attention_units=None, dropout=0.3):
    """BiLSTM over the time steps -> attention pooling -> tanh -> classifier (Zhou et al., 2016, on series: the
    forward and backward outputs summed, ``alpha = softmax(w^T tanh(H))`` over the real steps, which shows the steps
    that decided). Padded steps are skipped by both directions."""
    check_positive_int(lstm_units=lstm_units)
    check_rate(dropout=dropout)
    series, x = _padded_series(num_channels, num_classes)
    x = keras.layers.Bidirectional(keras.layers.LSTM(lstm_units, return_sequences=True), merge_mode="sum", name="bilstm")(x)
    x = keras.layers.Dropout(dropout, name="lstm_dropout")(x)
    x = layers.AttentionPooling(attention_units, name="attention_pooling")(x)
    x = keras.layers.Activation("tanh", name="series_representation")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.Model(series, _logits(x, num_classes))
