"""Layers and zoo models use keras.ops only: rerun their tests on the JAX backend.

Keras fixes its backend at import, so the JAX run is a separate pytest process. It reruns what depends on
the backend: the layers' and models' numerics and masking against their references, functional models,
`.keras` round trips, decoding. It leaves out tests marked `backend_independent` (argument validation, error
messages, the registry, configs: Python that runs the same on every backend, checked by the TensorFlow run)
and round trips marked `covered_on_jax` (models whose code the smaller models kept here run: see
test_zoo.COVERED_ON_JAX). It runs the Hypothesis properties with the small "jax" profile (conftest.py): JAX
compiles every op again for each new input shape, and the TensorFlow run already explores them with 15
examples a test.
"""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
# The layer, masking, zoo and attention-map files; of test_translation.py, the Transformer's decoding, padding and
# causality, its round trip, the loss and the schedule. The recipe itself, and its WordPiece vocabularies, use
# tf.data and TensorFlow tokenizers: they stay on TensorFlow. The recurrent translation models' JAX numerics are
# their layers' (test_layers.py: the decoders with implicit memory masks, padded target steps); beam search is
# Python over the cached step the Transformer's test checks; on JAX these model-level decoding loops compile at
# every step and took 6 of the rerun's 21 minutes.
JAX_SELECTION = (
    "not test_translation.py or loss_averages or schedule"
    " or ((changing or cached or padding) and transformer]) or (round_trip and tiny)"
)

def test_layer_and_zoo_tests_pass_on_jax():
    env = os.environ | {"KERAS_BACKEND": "jax"}
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        str(TESTS / "test_layers.py"), str(TESTS / "test_masking_properties.py"), str(TESTS / "test_zoo.py"),
        str(TESTS / "test_inspection.py"), str(TESTS / "test_translation.py"), "-k", JAX_SELECTION, "-m", "not (backend_independent or covered_on_jax)",
        "--hypothesis-profile=jax",
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)  # it took 20 minutes alone on a slow 2-core machine
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout.splitlines()[-1]


def test_the_jax_run_really_uses_jax():
    env = os.environ | {"KERAS_BACKEND": "jax"}
    probe = "import keras, layers; print(keras.backend.backend(), type(layers.MultiHeadAttention(2, 4)(keras.ops.ones((1, 3, 8)), keras.ops.ones((1, 3, 8)))).__module__)"
    completed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    backend, array_module = completed.stdout.split()
    assert backend == "jax" and array_module.startswith("jax")
