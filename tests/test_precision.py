"""Mixed precision (`--set precision=...`, recipes.training.precision) in every recipe.

The first training steps of each recipe in mixed_bfloat16 and mixed_float16 follow float32's: the same batches,
the same initial weights, dropout off (its masks are drawn in the compute dtype), and losses within what 16-bit
computation allows. A float16 run's optimizer scales the loss, keeps that state through a kill and a resume and
through its saved model, and a float16 translation run trains, decodes, reloads and exports (as its float32 twin).
"""

import functools
import math
import warnings

import keras
import numpy as np
import pytest

import zoo

from error_messages import raises_mentioning
from toy_training import KillAfterEpoch, Killed, added_callbacks, toy_model, train
from recipes import translation
from recipes.task import get_task
from recipes.training.epochs import EpochOrder
from recipes.training.optimization import averages_weights, make_optimizer
from recipes.training.precision import dtype_policy, float32_twin, loss_scaled
from recipes.training.run import RunDirectory

# Each recipe at the size of a few steps, on its real data, dropout off: (settings, steps compared).
FIRST_STEPS = {
    "text-classification": ({
        "model": "transformer_classifier_tiny", "max_train_examples": 128, "vocabulary_size": 300, "batch_size": 32,
        "learning_rate": 5e-4, "model_options": {"num_layers": 1, "dropout": 0.0},
    }, 4),
    "translation": ({
        "model": "transformer_tiny", "max_train_examples": 128, "max_eval_examples": 16, "vocabulary_size": 300,
        "max_length": 24, "batch_size": 32, "learning_rate": 5e-4,
        "model_options": {"hidden_dim": 32, "intermediate_dim": 64, "num_layers": 1, "dropout": 0.0},
    }, 4),
    # The model's first layer z-normalizes each series in float32 (raw values squared overflow float16 from 256 on).
    "time-series-classification": ({
        "model": "series_transformer", "dataset": "ItalyPowerDemand", "batch_size": 32, "learning_rate": 5e-4,
        "model_options": {"hidden_dim": 32, "intermediate_dim": 64, "num_layers": 1, "dropout": 0.0},
    }, 2),
    # TensorFlow's float16 convolution gradients are ~50x slower than float32's on a CPU: two small steps.
    "image-recognition": ({
        "model": "cbam_resnet20", "dataset": "fashion_mnist", "max_train_examples": 32, "max_eval_examples": 16,
        "batch_size": 16, "learning_rate": 0.05, "model_options": {"depth": 8},
    }, 2),
}
# bfloat16 keeps 8 significant bits, float16 11 (relative rounding 2^-9 and 2^-12 an operation): the losses of
# the first steps within 2% and 0.5% of float32's.
TOLERANCE = {"mixed_bfloat16": 2e-2, "mixed_float16": 5e-3}


@functools.cache
def first_losses(task_name, precision, run_dir):
    """The training losses of the first steps of `task_name`'s recipe in `precision`, and its compiled model: the
    recipe's own data, preparation, epoch order and `compiled_model`, stepped batch by batch."""
    task = get_task(task_name)
    settings, steps = FIRST_STEPS[task_name]
    config = task.Config(run_dir=f"{run_dir}/{task_name}-{precision}", precision=precision, verbose=0, **settings)
    run = RunDirectory(config.run_dir)
    run.start(config.to_dict())
    keras.utils.set_random_seed(config.seed)
    splits = task.load_data(config)
    prepared = task.prepare(run, splits, config, resuming=False)
    batches = task.make_dataset(splits["train"], prepared, config, order=EpochOrder(config.seed)).take(steps)
    model = task.compiled_model(config, prepared, splits["train"], steps_per_epoch=steps)
    return [float(model.train_on_batch(x, y, return_dict=True)["loss"]) for x, y in batches], model


@pytest.mark.parametrize("precision", TOLERANCE)
@pytest.mark.parametrize("task_name", FIRST_STEPS)
def test_the_first_steps_of_a_mixed_precision_run_follow_float32(task_name, precision, tmp_path_factory):
    run_dir = tmp_path_factory.getbasetemp() / "first-steps"
    reference, _ = first_losses(task_name, "float32", run_dir)
    losses, model = first_losses(task_name, precision, run_dir)

    compute_dtypes = {layer.name: layer.compute_dtype for layer in model._flatten_layers(include_self=False)}
    assert compute_dtypes.pop("logits") == "float32"
    assert compute_dtypes.pop("standardize", "float32") == "float32"  # the time-series model's z-normalization of raw series
    assert set(compute_dtypes.values()) == {precision.removeprefix("mixed_")}
    assert {weight.dtype for weight in model.weights} == {"float32"}
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")
    assert all(math.isfinite(loss) for loss in losses), losses
    np.testing.assert_allclose(losses, reference, rtol=TOLERANCE[precision])


def test_the_precision_setting_names_the_choices():
    with raises_mentioning("`precision`", "'float32', 'mixed_bfloat16', 'mixed_float16'", "float16"):
        translation.Config(model="transformer_tiny", precision="float16")


def toy_float16_model():
    """The toy run's network computing in float16; Keras' compile wraps its Adam in a `LossScaleOptimizer`."""
    with dtype_policy("mixed_float16"):
        return toy_model()


def test_a_float16_run_resumes_with_its_loss_scale(tmp_path):
    """The backup holds the loss scale and its count of finite steps with the optimizer's state: a run killed after
    its first epoch resumes to the weights and loss scale of a run that never stopped."""
    reference = train(tmp_path / "reference", 2, make_model=toy_float16_model)
    assert isinstance(reference.optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(reference.optimizer.dynamic_scale) < 2.0**15  # a first step overflowed: the scale was halved

    with added_callbacks(after=[KillAfterEpoch(0)]), pytest.raises(Killed):
        train(tmp_path / "killed", 2, make_model=toy_float16_model)
    resumed = train(tmp_path / "killed", 2, make_model=toy_float16_model)

    for name in ("dynamic_scale", "step_counter"):
        assert float(getattr(resumed.optimizer, name)) == float(getattr(reference.optimizer, name)), name
    for weight, expected in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(weight, expected, rtol=1e-5, atol=1e-6)


def test_a_float16_translation_run_trains_decodes_reloads_and_exports(tmp_path, data_dir):
    settings, _ = FIRST_STEPS["translation"]
    config = translation.Config(
        **settings | {"max_eval_examples": 8, "epochs": 1, "beam_size": 2, "bleu_sample_size": 8, "attention_probes": 1},
        precision="mixed_float16", verbose=0, data_dir=data_dir, run_dir=str(tmp_path / "run"),
    )
    result = translation.train(config)
    metrics = result.metrics
    assert all(map(math.isfinite, [*metrics["train_loss_per_epoch"], metrics["test_bleu_greedy"], metrics["test_bleu_beam"]]))
    [sentence] = translation.translate(result.run_dir, ["Ein Mann läuft."])
    assert isinstance(sentence, str)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when a saved optimizer's state does not fit the loaded one
        model = keras.saving.load_model(f"{result.run_dir}/model.keras")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.get_layer("logits").compute_dtype == "float32"

    # TFLite's interpreter has no float16 kernels for these ops: the file holds the run's float32 twin.
    exported = translation.TASK.export(result.run_dir, "tflite")
    assert exported["largest_difference"] <= 1e-4 and "float32" in exported["note"]


def test_the_float32_twin_of_a_mixed_precision_model_is_that_model_built_in_float32(rng):
    with dtype_policy("mixed_bfloat16"):
        mixed = zoo.build("transformer_classifier_tiny", vocab_size=50, num_layers=1)
    mixed.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in mixed.get_weights()])
    plain = zoo.build("transformer_classifier_tiny", vocab_size=50, num_layers=1)
    plain.set_weights(mixed.get_weights())
    twin = float32_twin(mixed)

    assert {layer.compute_dtype for layer in twin._flatten_layers()} == {"float32"}
    token_ids = rng.integers(1, 50, size=(3, 12))
    np.testing.assert_allclose(twin(token_ids), plain(token_ids), rtol=1e-6, atol=1e-6)
    assert np.abs(np.asarray(mixed(token_ids)) - np.asarray(plain(token_ids))).max() > 1e-4  # mixed really rounds


@pytest.mark.backend_independent
def test_a_loss_scaled_optimizer_that_averages_the_weights_is_seen_to_average_them():
    """`fit` evaluates and saves the average of the weights (SwapEMAWeights) when the optimizer keeps one; a float16
    run's optimizer keeps it inside its `LossScaleOptimizer`."""
    averaging = make_optimizer("adamw", 1e-3, 0.0, ema_momentum=0.9)
    assert averages_weights(loss_scaled(averaging, "mixed_float16"))
    assert not averages_weights(loss_scaled(make_optimizer("adamw", 1e-3, 0.0), "mixed_float16"))
