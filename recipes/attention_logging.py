"""Where the model looks, in TensorBoard: attention heatmaps of fixed probe examples after every epoch.

The heatmaps are the weights themselves, one pixel per (query, key) cell with
brightness = weight (8 bits: within 1/510 of the weight) (TensorBoard's image dashboard has brightness and contrast
sliders for faint maps): what `zoo.attention_maps` returns, cut to the
example's real length.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo import attention_maps

ATTENTION_LOG_DIR = "attention"


def to_pixels(weights):
    """Weights in [0, 1] as 8-bit brightness, rounded (TensorBoard's own float conversion truncates)."""
    return np.round(np.clip(np.asarray(weights, "float64"), 0.0, 1.0) * 255).astype("uint8")


class AttentionMapLogger(keras.callbacks.Callback):
    """Writes heatmap images of the model's attention on `probe_inputs` at the end of each epoch.

    Args:
        log_dir: directory of the event files (a run's `attention/`).
        probe_inputs: a batch of model inputs, the same every epoch.
        heatmaps: `(outputs, maps) -> iterable of (tag, weights)` with `maps`
            from `zoo.attention_maps` and `weights` a 2-D array in [0, 1].
        description: text logged once (step 0) under the tag "probes", e.g.
            the probe sentences, so the heatmaps' axes can be read.
    """

    def __init__(self, log_dir, probe_inputs, heatmaps, description=None):
        super().__init__()
        self.log_dir = str(log_dir)
        self.probe_inputs = probe_inputs
        self.heatmaps = heatmaps
        self.description = description
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(self.log_dir)
        if self.description:
            with self._writer.as_default(step=0):
                tf.summary.text("probes", self.description)

    def on_epoch_end(self, epoch, logs=None):
        outputs, maps = attention_maps(self.model, self.probe_inputs)
        with self._writer.as_default(step=epoch):
            for tag, weights in self.heatmaps(outputs, maps):
                tf.summary.image(tag, to_pixels(weights)[None, :, :, None])
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


def text_classification_heatmaps(lengths):
    """Heatmaps of a text classifier for probe sentences of `lengths` real tokens.

    Self-attention `(batch, heads, T, T)` of each Transformer block gives one
    `n x n` map per head ("self_attention/<layer>/head_<h>/example_<i>");
    attention pooling `(batch, T)` one `1 x n` row ("attention_pooling/<layer>/example_<i>").
    """

    def heatmaps(outputs, maps):
        for layer, weights in maps.items():
            for i, n in enumerate(lengths):
                if weights.ndim == 4:
                    for head in range(weights.shape[1]):
                        yield f"self_attention/{layer}/head_{head}/example_{i}", weights[i, head, :n, :n]
                elif weights.ndim == 2:
                    yield f"attention_pooling/{layer}/example_{i}", weights[i, None, :n]

    return heatmaps
