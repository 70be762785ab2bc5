"""Training precision: float32, or mixed precision through Keras' dtype policies.

Mixed precision (Micikevicius et al., 2018, "Mixed Precision Training") keeps every
weight in float32 and computes layers in 16 bits: bfloat16 ("mixed_bfloat16") or
float16 ("mixed_float16"). What must stay exact stays in float32: the attention
softmax (`layers.core.masked_softmax`), the logits (each zoo model's last layer has a
float32 policy) and the losses (Keras computes a loss in float32).

float16 spans only 6e-8 ... 65504, so small gradients underflow: loss scaling
multiplies the loss by S before differentiation and divides the gradients by S
before the update. Keras' `LossScaleOptimizer` chooses S itself (starting at 2^15,
halved and the step skipped on a non-finite gradient, doubled after 2,000 finite
steps; `loss_scaled`). bfloat16 has float32's range and needs no scaling.
"""

import contextlib

import keras

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@contextlib.contextmanager
def dtype_policy(precision):
    """Layers and models created inside compute in `precision` (one of `PRECISIONS`); Keras' global policy is
    restored on leaving, so nothing built afterwards (a teacher, a user's model) inherits it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def loss_scaled(optimizer, precision):
    """`optimizer` in a `keras.optimizers.LossScaleOptimizer` for "mixed_float16", else itself.

    `Model.compile` would wrap it too, but would keep the bare optimizer in the
    model's compile config: a saved `model.keras` would then load without loss
    scaling and drop its optimizer state (Keras 3.15). Wrapped here, it keeps both.
    """
    return keras.optimizers.LossScaleOptimizer(optimizer) if precision == "mixed_float16" else optimizer


def float32_twin(model):
    """`model` computing in float32: the same architecture and weights (a mixed-precision model's weights are
    float32 already), every layer's policy float32. What runtimes without 16-bit kernels (TFLite, ONNX Runtime
    on a CPU) run in place of a mixed-precision model."""
    config = _with_float32_policies(keras.saving.serialize_keras_object(model))
    twin = keras.saving.deserialize_keras_object(config)
    twin.set_weights(model.get_weights())
    return twin


def _with_float32_policies(config):
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            return config | {"config": config["config"] | {"name": "float32"}}
        return {key: _with_float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_with_float32_policies(value) for value in config]
    return config
