"""Attention pooling: a learned weighted average over the steps of a sequence."""

import keras
from keras import ops

from layers import core
from layers.symbolic import TracedOutputSpec
from layers.validation import check_positive_int


@keras.saving.register_keras_serializable(package="layers")
class AttentionPooling(TracedOutputSpec, keras.layers.Layer):
    """Pools `(batch, T, d)` into `(batch, d)` with learned attention weights.

    Without `units` (Zhou et al., 2016, Eq. 9-11):
    ``M = tanh(H)``, ``alpha = softmax(w^T M)``, ``r = H alpha^T``.

    With `units` (Yang et al., 2016, Eq. 5-7, word attention):
    ``u_t = tanh(W h_t + b)``, ``alpha_t = softmax_t(u_t^T u_w)``,
    ``r = sum_t alpha_t h_t``.

    Padded steps (implicit Keras mask or `mask`) get weight 0. The pooled vector
    is returned as is; Zhou et al. apply `tanh` to it afterwards.

    Papers: Zhou et al., "Attention-Based Bidirectional Long Short-Term Memory
    Networks for Relation Classification", ACL 2016; Yang et al., "Hierarchical
    Attention Networks for Document Classification", NAACL 2016.

    Args:
        units: width of the hidden projection `W`; `None` scores `tanh(h_t)` directly.
        kernel_initializer: initializer of `W` and of the context vector.

    Call arguments:
        inputs: `(batch, T, d)`, e.g. the outputs of a bidirectional RNN.
        mask: `(batch, T)` boolean; defaults to the implicit Keras mask.
        return_attention_scores: also return the weights.

    Returns:
        `(batch, d)`, and with `return_attention_scores=True` the weights
        `(batch, T)` (sum 1 over the real steps, 0 at padding).

    Example:

    >>> pool = AttentionPooling()
    >>> states = keras.random.normal((2, 7, 32))
    >>> pooled, weights = pool(states, return_attention_scores=True)
    >>> tuple(pooled.shape), tuple(weights.shape)
    ((2, 32), (2, 7))
    """

    # What the weights are, for `zoo.attention_maps`: `(batch, T)`.
    attention_kinds = ("pooling",)

    def __init__(self, units=None, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int(optional=True, units=units)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"AttentionPooling pools sequences `(batch, T, d)`; received shape {tuple(input_shape)}. "
                "Reshape feature maps `(batch, H, W, d)` to `(batch, H * W, d)` first."
            )
        width = input_shape[-1]
        if self.units is not None:
            self.kernel = self.add_weight(
                name="kernel", shape=(width, self.units), initializer=self.kernel_initializer
            )
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.context = self.add_weight(
            name="context", shape=(self.units or width,), initializer=self.kernel_initializer
        )

    def call(self, inputs, *, mask=None, return_attention_scores=False):
        hidden = inputs if self.units is None else ops.matmul(inputs, self.kernel) + self.bias
        scores = ops.einsum("btu,u->bt", ops.tanh(hidden), self.context)
        weights = core.masked_softmax(scores, None if mask is None else ops.cast(mask, "bool"))
        pooled = ops.einsum("bt,btd->bd", weights, inputs)
        return (pooled, weights) if return_attention_scores else pooled

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
