"""Optimizers and learning-rate schedules shared by the recipes."""

import keras

from zoo.objectives import LayerwiseAdamW, LayerwiseSGD

OPTIMIZERS = ("sgd", "adamw")
# Variable names kept from weight decay: biases, normalization scales and offsets, and (as in DeiT and
# timm) the ViT class token and position table.
NO_WEIGHT_DECAY = ["bias", "gamma", "beta", "class_token", "position_table"]


def warmup_cosine_decay(peak_learning_rate, total_steps, warmup_steps):
    """Linear warmup from 0 to `peak_learning_rate` over `warmup_steps`, then cosine decay to 0.

    ``lr(t) = peak t / W`` for ``t < W``, then
    ``lr(t) = peak (1 + cos(pi (t - W) / (T - W))) / 2`` (Loshchilov & Hutter, 2017,
    SGDR, without restarts; warmup after Goyal et al., 2017).
    """
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )


def warmup_cosine_schedule(config, steps_per_epoch):
    """`warmup_cosine_decay` to `config.learning_rate` over `config.epochs`, warming up over `config.warmup_fraction` of the steps."""
    total_steps = steps_per_epoch * config.epochs
    return warmup_cosine_decay(config.learning_rate, total_steps, int(total_steps * config.warmup_fraction))


def make_optimizer(name, learning_rate, weight_decay, momentum=0.9, ema_momentum=None, layer_decay=1.0, frozen_steps=0):
    """`"sgd"` (Nesterov momentum) or `"adamw"`, with decoupled weight decay.

    `momentum` is SGD's momentum, or AdamW's beta_1: the decay of the moving
    average of the gradients that both follow (Kingma & Ba, 2015).

    Keras applies the decay as ``w <- w - lr * weight_decay * w`` at each step
    (Loshchilov & Hutter, 2019), and not to biases, normalization parameters, or
    the class token and position table of a Vision Transformer (`NO_WEIGHT_DECAY`).
    For SGD with momentum `m` this is as strong as an L2 penalty of
    ``(1 - m) * weight_decay`` added to the gradient (the "weight decay" of
    He et al. and of `torch.optim.SGD`): at m = 0.9, `weight_decay` 1e-3 here
    is their 1e-4, and 5e-3 is the 5e-4 of wide ResNets.

    With `ema_momentum` the optimizer also keeps an exponential moving average
    of the weights, ``w_ema <- m w_ema + (1 - m) w`` after each step (Polyak &
    Juditsky, 1992), which `keras.callbacks.SwapEMAWeights` evaluates and saves.

    `layer_decay` below 1 or `frozen_steps` give each weight its own rate (`LayerwiseRates`).
    """
    averaging = {} if ema_momentum is None else {"use_ema": True, "ema_momentum": ema_momentum}
    layerwise = layer_decay != 1 or frozen_steps > 0
    rates = {"layer_decay": layer_decay, "frozen_steps": frozen_steps} if layerwise else {}
    if name == "sgd":
        optimizer = (LayerwiseSGD if layerwise else keras.optimizers.SGD)(
            learning_rate, momentum=momentum, nesterov=True, weight_decay=weight_decay, **averaging, **rates
        )
    elif name == "adamw":
        optimizer = (LayerwiseAdamW if layerwise else keras.optimizers.AdamW)(
            learning_rate, weight_decay=weight_decay, beta_1=momentum, **averaging, **rates
        )
    else:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of {OPTIMIZERS}.")
    optimizer.exclude_from_weight_decay(var_names=NO_WEIGHT_DECAY)
    return optimizer


def averages_weights(optimizer):
    """Whether `optimizer` keeps a moving average of the weights (`make_optimizer`'s `ema_momentum`); for a
    `keras.optimizers.LossScaleOptimizer` (float16 training), whether the optimizer it wraps does."""
    return getattr(optimizer, "inner_optimizer", optimizer).use_ema
