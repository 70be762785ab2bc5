"""The losses and learning-rate schedules the recipes compile models with.

They live in the zoo, not in the recipes, so that a saved run loads after `import zoo` alone:
`keras.saving.load_model("runs/translation/model.keras")` needs them registered.
Their registered names keep the package "recipes" they were saved under.
"""

import keras


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
