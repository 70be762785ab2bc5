"""The losses, learning-rate schedules and optimizers the recipes compile models with.

They live in the zoo, not in the recipes, so that a saved run loads after `import zoo` alone:
`keras.saving.load_model("runs/translation/model.keras")` needs them registered.
Their registered names keep the package "recipes" they were saved under.
"""

import re

import keras
from keras import ops

from layers.validation import check_non_negative_int, check_number


@keras.saving.register_keras_serializable(package="recipes")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy against label-smoothed targets, from integer labels and logits.

    ``q = (1 - eps) onehot(y) + eps / V`` (Szegedy et al., 2016; Vaswani et al.,
    2017, Section 5.4), so ``loss = (1 - eps) (-log p_y) + eps mean_k(-log p_k)``.
    Padding (label 0) gets zero loss; with the models' target mask Keras
    averages over real tokens only.
    """

    def __init__(self, label_smoothing=0.1, name="smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, "int32")
        log_probs = keras.ops.log_softmax(keras.ops.cast(y_pred, "float32"), axis=-1)
        true_log_prob = keras.ops.squeeze(keras.ops.take_along_axis(log_probs, y_true[..., None], axis=-1), -1)
        eps = self.label_smoothing
        loss = -(1.0 - eps) * true_log_prob - eps * keras.ops.mean(log_probs, axis=-1)
        return keras.ops.where(keras.ops.not_equal(y_true, 0), loss, 0.0)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="recipes")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``lr = d_model^-0.5 min(step^-0.5, step warmup^-1.5)`` (Vaswani et al., 2017, Eq. 3)."""

    def __init__(self, model_dim, warmup_steps=4000):
        self.model_dim = model_dim
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32") + 1.0  # Keras counts from 0
        warmup = keras.ops.cast(self.warmup_steps, "float32")
        return self.model_dim**-0.5 * keras.ops.minimum(step**-0.5, step * warmup**-1.5)

    def get_config(self):
        return {"model_dim": self.model_dim, "warmup_steps": self.warmup_steps}


# The zoo's blocks, by the names of their layers: `encoder_<i>` (Transformers), `stage<s>_block<b>` (ResNets).
BLOCK = re.compile(r"(encoder_\d+|stage\d+_block\d+)(?=[/_])")
HEAD = "logits/"  # the zoo classifiers' output layer


def layer_depths(paths):
    """The depth of each weight (by its path, in the model's order) for layer-wise learning rates: 0 before
    the first block (embeddings, stem), `i` in the `i`-th block, `n + 1` after the last of `n` (the final
    norm and the classifier)."""
    blocks, depths = {}, []
    for path in paths:
        match = BLOCK.match(path)
        if match:
            depths.append(blocks.setdefault(match.group(1), len(blocks) + 1))
        else:
            depths.append(0 if not blocks else None)
    return [len(blocks) + 1 if depth is None else depth for depth in depths]


class LayerwiseRates:
    """An optimizer whose weights learn at their own rates: layer-wise learning-rate decay, and a frozen backbone.

    A weight at depth `l` of a model of `n` blocks (`layer_depths`) learns at ``decay^(n + 1 - l)``
    times the rate (Clark et al. 2020, ELECTRA; Bao et al. 2022, BEiT; timm's `layer_decay`): the
    classifier and final norm at the full rate, the embeddings or stem at the smallest. For the first
    `frozen_steps` steps every weight but the classifier's (`HEAD`) has rate 0: the backbone keeps its
    pretrained weights while a new head learns. Frozen means a rate of 0, not a frozen layer: its
    batch-norm statistics still follow the new data, and AdamW's moments still gather its gradients.
    The weight decay, ``w <- w - rate * weight_decay * w``, follows each weight's rate, as in timm's
    parameter groups. The step counter decides, so a resumed run freezes exactly as an unbroken one.
    """

    def __init__(self, *args, layer_decay=1.0, frozen_steps=0, **kwargs):
        super().__init__(*args, **kwargs)
        check_number("(0, 1]", layer_decay=layer_decay)
        check_non_negative_int(frozen_steps=frozen_steps)
        self.layer_decay = layer_decay
        self.frozen_steps = frozen_steps

    def build(self, variables):
        super().build(variables)
        paths = [variable.path for variable in variables]
        depths = layer_depths(paths)
        self._in_head = [path.startswith(HEAD) for path in paths]
        if self.layer_decay != 1 and max(depths) < 2:
            raise ValueError(
                f"layer_decay={self.layer_decay} needs a model of blocks (layers named encoder_<i> or "
                "stage<s>_block<b>, as the zoo's Transformers and ResNets have); this one has none."
            )
        if self.frozen_steps and not any(self._in_head):
            raise ValueError(
                f"frozen_steps={self.frozen_steps} trains only the classifier, the layer named {HEAD[:-1]!r}; "
                "this model has none, so nothing would train."
            )
        self._rate_factors = [self.layer_decay ** (max(depths) - depth) for depth in depths]
        self._decayed = [self.weight_decay is not None and self._use_weight_decay(variable) for variable in variables]

    def _apply_weight_decay(self, variables):
        """Applied in `update_step` instead, at each weight's own rate."""

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        rate = ops.cast(learning_rate, variable.dtype) * self._rate_factors[index]
        if self.frozen_steps and not self._in_head[index]:
            rate = ops.where(self.iterations < self.frozen_steps, ops.zeros_like(rate), rate)
        if self._decayed[index]:
            variable.assign(variable - variable * ops.cast(self.weight_decay, variable.dtype) * rate)
        super().update_step(gradient, variable, rate)

    def get_config(self):
        return {**super().get_config(), "layer_decay": self.layer_decay, "frozen_steps": self.frozen_steps}


@keras.saving.register_keras_serializable(package="recipes")
class LayerwiseSGD(LayerwiseRates, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with `LayerwiseRates`."""


@keras.saving.register_keras_serializable(package="recipes")
class LayerwiseAdamW(LayerwiseRates, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with `LayerwiseRates`."""
