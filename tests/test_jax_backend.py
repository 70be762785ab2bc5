"""Layers and zoo models use keras.ops only: rerun their tests on the JAX backend.

Keras fixes its backend at import, so the JAX run is a separate pytest process. It reruns what depends on
the backend: the layers' and models' numerics and masking against their references, functional models,
`.keras` round trips, decoding. It leaves out tests marked `backend_independent` (argument validation, error
messages, the registry, configs: Python that runs the same on every backend, checked by the TensorFlow run)
and round trips marked `covered_on_jax` (one model of each builder keeps its round trip here: see
test_zoo.COVERED_ON_JAX). It runs the Hypothesis properties with the small "jax" profile (conftest.py): JAX
compiles every op again for each new input shape, and the TensorFlow run already explores them with 15
examples a test.
"""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
# The files the JAX rerun reads, each with the tests it runs there (None: all but the markers' exclusions).
# test_inspection.py: `zoo.attention_maps` re-runs a functional model's graph, the same Python on every backend;
# the test of every attention kind runs that graph on JAX for each layer, an image ResNet's for its class activation maps. test_translation.py: the Transformer's
# cached decoding (the step function beam search and greedy decoding use), its jitted form, the loss and the schedule.
# The recipe itself, and its WordPiece vocabularies, use tf.data and TensorFlow tokenizers: they stay on TensorFlow.
# test_efficient.py, test_series_layers.py: the efficient attention and series layers' numerics. test_benchmarks.py: the attention scaling benchmark
# compiles JAX steps, so its test runs here only. test_checkpoints.py: loaded checkpoints give the references' logits
# (the position table's bicubic resampling included). test_fine_tuning.py: layer-wise rates inside JAX's stateless step.
# The model-level causality and padding checks repeat the blocks' masking properties and implicit-mask tests
# (test_masking_properties.py, test_layers.py), and on JAX each model-level test compiles every op of the model
# again (20-50 s a test on a 2-core machine).
JAX_RUN = {
    "test_layers.py": None,
    "test_efficient.py": None,
    "test_series_layers.py": "not time_series_models",
    "test_masking_properties.py": None,
    "test_zoo.py": "round_trip",
    "test_inspection.py": "each_kind or without_attention or class_activation_maps_of_an_image",
    "test_translation.py": "loss_averages or schedule or ((cached or compiled_decoder) and transformer])",
    "test_benchmarks.py": "scaling_benchmark",
    "test_checkpoints.py": "reference",
    "test_fine_tuning.py": "steps or frozen",
}
# XLA's CPU backend without its expensive LLVM passes and with its older, simpler fusion emitters: the rerun calls
# layers eagerly, so JAX compiles each op once per new shape, and compiling, not running, is most of its time
# (the rerun's 114 tests here: 500 s with the first two flags, 330 s with all three; the same results).
FAST_COMPILE = (
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true --xla_cpu_use_fusion_emitters=false"
)


def jax_run_command():
    selection = " or ".join(f"({file}{f' and ({tests})' if tests else ''})" for file, tests in JAX_RUN.items())
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(TESTS / file) for file in JAX_RUN),
        "-k", selection, "-m", "not (backend_independent or covered_on_jax)", "--hypothesis-profile=jax",
    ]


def test_layer_and_zoo_tests_pass_on_jax():
    env = os.environ | {"KERAS_BACKEND": "jax", "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()}
    completed = subprocess.run(jax_run_command(), env=env, capture_output=True, text=True, timeout=3600)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout.splitlines()[-1]


def test_the_jax_run_really_uses_jax():
    env = os.environ | {"KERAS_BACKEND": "jax"}
    probe = "import keras, layers; print(keras.backend.backend(), type(layers.MultiHeadAttention(2, 4)(keras.ops.ones((1, 3, 8)), keras.ops.ones((1, 3, 8)))).__module__)"
    completed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    backend, array_module = completed.stdout.split()
    assert backend == "jax" and array_module.startswith("jax")
