"""Where the model looks, in TensorBoard: the attention of fixed probe examples after every epoch.

Each attention map is logged twice:

* exactly, one pixel per (query, key) cell with brightness = weight (8 bits:
  within 1/510 of the weight), under `<kind>/<layer>/head_<h>/example_<i>`;
  TensorBoard's brightness and contrast sliders help with faint maps;
* as a labeled figure, the tokens on the axes and the heads side by side,
  under `<kind>_figure/<layer>/example_<i>`.

Image models get their maps over the probe image instead (CBAM's spatial
attention, a ViT's attention rollout), time-series models beneath the probe
series. The weights are what `zoo.attention_maps` returns, cut to each
example's real length.
"""

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from layers.efficient import window_weights_as_matrix
from recipes.data.series import series_lengths
from recipes.reporting import figures
from zoo import attention_maps, attention_rollout

ATTENTION_LOG_DIR = "attention"


def to_pixels(weights):
    """Weights in [0, 1] as 8-bit brightness, rounded (TensorBoard's own float conversion truncates)."""
    return np.round(np.clip(np.asarray(weights, "float64"), 0.0, 1.0) * 255).astype("uint8")


def write_summary(tag, value, step):
    """Logs one probe summary with the default writer.

    `value`: a 2-D array of weights in [0, 1] (an exact heatmap), an RGB uint8
    array `(H, W, 3)` (an overlay), a matplotlib `Figure`, or text.
    """
    if isinstance(value, str):
        tf.summary.text(tag, value, step=step)
        return
    if isinstance(value, Figure):
        value = figures.figure_pixels(value)
    pixels = to_pixels(value)[..., None] if np.ndim(value) == 2 else np.asarray(value, "uint8")
    tf.summary.image(tag, pixels[None], step=step)


class AttentionMapLogger(keras.callbacks.Callback):
    """Writes summaries of the model's attention on probe examples at the end of each epoch.

    Args:
        log_dir: directory of the event files (a run's `attention/`).
        probe_inputs: a batch of model inputs, the same every epoch, or a
            function `model -> inputs` called every epoch (translation feeds
            the model's own greedy translation back as the target).
        summaries: `(inputs, outputs, maps) -> iterable of (tag, value)`, with
            `maps` from `zoo.attention_maps` and `value` as in `write_summary`.
        description: text logged once (step 0) under the tag "probes", e.g.
            the probe sentences.
    """

    def __init__(self, log_dir, probe_inputs, summaries, description=None):
        super().__init__()
        self.log_dir = str(log_dir)
        self.probe_inputs = probe_inputs
        self.summaries = summaries
        self.description = description
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(self.log_dir)
        if self.description:
            with self._writer.as_default(step=0):
                tf.summary.text("probes", self.description)

    def on_epoch_end(self, epoch, logs=None):
        inputs = self.probe_inputs(self.model) if callable(self.probe_inputs) else self.probe_inputs
        outputs, maps = attention_maps(self.model, inputs)
        with self._writer.as_default():
            for tag, value in self.summaries(inputs, outputs, maps):
                write_summary(tag, value, epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


def attention_summaries(kind, layer, example, weights, rows, columns, **figure_options):
    """One example's exact maps and their labeled figure.

    `weights`: `(heads, queries, keys)`, one exact map per head
    ("<kind>/<layer>/head_<h>/example_<i>"), or `(queries, keys)` for a layer
    with one map ("<kind>/<layer>/example_<i>"). `figure_options` go to
    `figures.plot_attention`.
    """
    if weights.ndim == 2:
        yield f"{kind}/{layer}/example_{example}", weights
    else:
        for head, head_weights in enumerate(weights):
            yield f"{kind}/{layer}/head_{head}/example_{example}", head_weights
    title = f"{layer}, example {example}"
    yield f"{kind}_figure/{layer}/example_{example}", figures.plot_attention(weights, rows, columns, title, **figure_options)


def text_classification_summaries(probe_tokens):
    """Summaries of a text classifier for probe sentences of word pieces `probe_tokens` (one list each).

    Self-attention `(batch, heads, T, T)` of each Transformer block: the tokens
    x tokens map of every head ("self_attention/..."; a sliding window's compact
    weights expanded to it); Linformer's weights over its projected keys: tokens
    x projected keys ("projected_attention/..."); attention pooling `(batch, T)`:
    one row over the tokens ("attention_pooling/...").
    """

    def summaries(inputs, outputs, maps):
        for layer, kinds in maps.items():
            if "window" in kinds:
                kinds = {**kinds, "self": window_weights_as_matrix(kinds["window"])}
            for i, tokens in enumerate(probe_tokens):
                n = len(tokens)
                if "self" in kinds:
                    yield from attention_summaries("self_attention", layer, i, kinds["self"][i, :, :n, :n], tokens, tokens)
                if "projected" in kinds:
                    yield from attention_summaries("projected_attention", layer, i, kinds["projected"][i, :, :n], tokens, None)
                if "pooling" in kinds:
                    yield from attention_summaries("attention_pooling", layer, i, kinds["pooling"][i, None, :n], None, tokens)

    return summaries


def translation_summaries(sources, references, source_tokens, target_tokens, detokenize):
    """Summaries of a translation model whose probe inputs hold its own translations of `sources`.

    Args:
        sources, references: the probe sentences and their reference translations.
        source_tokens: the word pieces of each source sentence.
        target_tokens: `ids -> word pieces` of the target vocabulary.
        detokenize: `(batch, T) ids -> texts` of the target vocabulary.

    Logged per probe: the source, reference and the model's translation as
    text ("translation/example_<i>"); the cross-attention of every decoder
    block and head ("cross_attention/...", translation tokens x source
    tokens) or an RNN decoder's alignments ("alignment/..."). The rows are the
    tokens the model predicts at each position: its translation, then [END].
    """

    def summaries(inputs, outputs, maps):
        target_in = np.asarray(inputs["target_tokens_in"])
        # What the model predicts at each real target position: its translation, then [END].
        emitted = np.where(target_in != 0, np.argmax(outputs, axis=-1), 0)
        hypotheses = detokenize(emitted)
        for i, (source, reference) in enumerate(zip(sources, references)):
            yield f"translation/example_{i}", f"source: {source}\n\nreference: {reference}\n\ntranslation: {hypotheses[i]}"
        for layer, kinds in maps.items():
            for i, columns in enumerate(source_tokens):
                n, s = int(np.count_nonzero(target_in[i])), len(columns)
                rows = target_tokens(emitted[i, :n])
                if "cross" in kinds:  # a Transformer decoder block (batch, heads, T_target, T_source)
                    yield from attention_summaries("cross_attention", layer, i, kinds["cross"][i, :, :n, :s], rows, columns)
                if "alignment" in kinds:  # an RNN decoder's alignments (batch, T_target, T_source)
                    yield from attention_summaries("alignment", layer, i, kinds["alignment"][i, :n, :s], rows, columns)

    return summaries


def image_summaries(images):
    """Summaries of an image classifier for the probe `images` `(batch, H, W, C)` (raw pixels).

    * SE and ECA (and CBAM's channel attention) `(batch, C)` per block: one
      map per stage, blocks x channels ("channel_attention/<stage>/...").
    * CBAM's spatial attention `(batch, H', W')` per block, over the image
      ("spatial_attention/<layer>/example_<i>").
    * A ViT's blocks `(batch, heads, 1 + P, 1 + P)`: the attention rollout
      from the class token to the patches, over the image
      ("attention_rollout/example_<i>"), from `zoo.attention_rollout`.
    * A CNN's class activation map of the predicted class, over the image
      ("class_activation/<pooling layer>/example_<i>"; Zhou et al. 2016).
    """
    images = np.asarray(images)

    def summaries(inputs, outputs, maps):
        stages, self_attention = {}, []
        for layer, kinds in maps.items():
            if "spatial" in kinds:  # CBAM
                for i, image in enumerate(images):
                    yield f"spatial_attention/{layer}/example_{i}", figures.overlay(image, kinds["spatial"][i])
            if "channel" in kinds:  # SE, ECA, CBAM
                stages.setdefault(layer.split("_block")[0], []).append((layer, kinds["channel"]))
            if "self" in kinds:  # a ViT block
                self_attention.append(kinds["self"])
            if "class_activation" in kinds:  # a ResNet's logits on mean-pooled features
                for i, image in enumerate(images):
                    predicted = kinds["class_activation"][i, ..., int(np.argmax(outputs[i]))]
                    yield f"class_activation/{layer}/example_{i}", figures.overlay(image, predicted)
        for stage, blocks in stages.items():
            channels = np.stack([weights for _, weights in blocks], axis=1)  # (batch, blocks, C)
            names = [layer for layer, _ in blocks]
            for i in range(len(images)):
                yield from attention_summaries("channel_attention", stage, i, channels[i], names, None, cell_inches=0.08)
        if self_attention:
            class_to_patches = attention_rollout(self_attention)[:, 0, 1:]
            for i, image in enumerate(images):
                yield f"attention_rollout/example_{i}", figures.overlay(image, patch_grid(class_to_patches[i], image.shape))

    return summaries


def patch_grid(weights, image_shape):
    """The per-patch `weights` `(P,)` as the `(rows, columns)` grid of patches over an image of `image_shape`."""
    height, width = image_shape[:2]
    rows = int(round(np.sqrt(len(weights) * height / width)))
    if rows == 0 or len(weights) % rows:
        raise ValueError(f"{len(weights)} patches do not tile an image of shape {tuple(image_shape)}.")
    return np.reshape(weights, (rows, len(weights) // rows))


def series_attention_rows(maps, example, length, predicted):
    """`{(kind, layer): (length,) weights}`: the attention over the steps of one probe series, from
    `zoo.attention_maps`' `maps`, each summing to 1: attention pooling's weights ("attention_pooling"), for each
    Transformer block the attention each step receives, averaged over the heads and the real queries
    ("attention_received"; a sliding window's weights expanded first), and the class activation map of the
    `predicted` class ("class_activation", of a network pooling its features by their mean: FCN, ResNet), less
    its lowest step's value. Linformer's projected keys have no step of their own and give no row."""
    rows = {}
    for layer, kinds in maps.items():
        if "class_activation" in kinds:
            activation = kinds["class_activation"][example, :length, predicted]
            rows["class_activation", layer] = normalized(activation - activation.min())
        if "pooling" in kinds:
            rows["attention_pooling", layer] = kinds["pooling"][example, :length]
        self_attention = window_weights_as_matrix(kinds["window"]) if "window" in kinds else kinds.get("self")
        if self_attention is not None:
            rows["attention_received", layer] = self_attention[example, :, :length, :length].mean(axis=(0, 1))
    return rows


def normalized(weights):
    """`weights` (not negative) divided by their sum; equal weights where they are all 0."""
    total = float(weights.sum())
    return weights / total if total > 0 else np.full(weights.shape, 1.0 / weights.size)


def series_summaries(series, labels, class_names):
    """Summaries of a time-series classifier for probe `series` `(batch, T, C)` (raw, NaN after each series' end)
    of class ids `labels` (None where unknown).

    * Each row of `series_attention_rows`, one pixel a step, divided by its largest weight ("<kind>/<layer>/
      example_<i>"; weights near 1/T would be all but black on TensorBoard's 0..1 scale).
    * The series as lines with those rows beneath, titled with its class and the predicted one
      ("series_attention/example_<i>"): which segment decided.
    * SE and ECA's channel weights `(batch, C)` of each block ("channel_attention/<layer>/...").
    """
    series = np.asarray(series)
    lengths = series_lengths(series)

    def summaries(inputs, outputs, maps):
        for i, length in enumerate(lengths):
            for (kind, layer), weights in series_attention_rows(maps, i, length, int(np.argmax(outputs[i]))).items():
                yield f"{kind}/{layer}/example_{i}", weights[None] / max(float(weights.max()), 1e-12)
            yield f"series_attention/example_{i}", series_attention_figure(series, outputs, maps, i, length, labels, class_names)
            for layer, kinds in maps.items():
                if "channel" in kinds:
                    yield from attention_summaries("channel_attention", layer, i, kinds["channel"][i, None], [layer], None, cell_inches=0.08)

    return summaries


def series_attention_figure(series, outputs, maps, example, length, labels, class_names):
    """Probe `example`'s first `length` steps of `series` as lines with its `series_attention_rows` beneath, titled
    with its class (`labels`: class ids, or None) and the class of the highest of its `outputs`."""
    known = "" if labels is None else f"class {class_names[labels[example]]}, "
    title = f"example {example}: {known}predicted {class_names[int(np.argmax(outputs[example]))]}"
    rows = series_attention_rows(maps, example, length, int(np.argmax(outputs[example])))
    labeled_rows = {f"{layer}: {kind.replace('_', ' ')}": weights for (kind, layer), weights in rows.items()}
    return figures.plot_series_attention(series[example, :length], labeled_rows, title)
