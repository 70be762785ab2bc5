"""Exported models run in their own runtimes (TensorFlow SavedModel, TFLite, ONNX Runtime) and give Keras' outputs."""

import keras
import numpy as np
import onnxruntime
import pytest
import tensorflow as tf

import zoo
from error_messages import raises_mentioning
from recipes.export import ExportError, default_path, export_model

# Rounding of float32 graphs rewritten by a converter, far below what a wrong weight or layer would change.
TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}


def run_artifact(format, path, named):
    """The artifact's outputs for the named inputs, read with the runtime a user would use."""
    if format == "saved_model":
        loaded = tf.saved_model.load(str(path))
        return loaded.serve(named if len(named) > 1 else next(iter(named.values()))).numpy()
    if format == "tflite":
        (outputs,) = tf.lite.Interpreter(model_path=str(path)).get_signature_runner()(**named).values()
        return outputs
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, named)[0]


def token_batch(rng, batch, length, vocabulary):
    ids = rng.integers(1, vocabulary, size=(batch, length)).astype("int32")
    ids[0, length // 2 :] = 0  # padding
    return ids


@pytest.mark.parametrize("format", ["saved_model", "tflite", "onnx"])
def test_each_format_gives_the_models_outputs_on_other_inputs_than_it_was_checked_on(rng, tmp_path, format):
    """A translation Transformer (two inputs, masks, cross attention): checked on one batch, compared on another."""
    model = zoo.build("transformer_tiny", source_vocab_size=40, target_vocab_size=50, num_layers=1)
    sample = {"source_tokens": token_batch(rng, 2, 6, 40), "target_tokens_in": token_batch(rng, 2, 5, 50)}
    path = default_path(tmp_path, format)
    difference = export_model(model, format, path, sample)
    assert 0 <= difference < 1e-4
    other = {"source_tokens": token_batch(rng, 3, 9, 40), "target_tokens_in": token_batch(rng, 3, 7, 50)}
    np.testing.assert_allclose(run_artifact(format, path, other), keras.ops.convert_to_numpy(model(other)), **TOLERANCE)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing partial left beside it


def test_onnx_holds_the_exact_gelu_of_vision_transformers(rng, tmp_path):
    """tf2onnx leaves TensorFlow's Erfc (exact GELU) unconverted; the export teaches it 1 - erf(x)."""
    model = zoo.build("vit_small_images", input_shape=(16, 16, 3), num_classes=3, num_layers=1)
    images = rng.uniform(-2, 2, size=(4, 16, 16, 3)).astype("float32")
    export_model(model, "onnx", tmp_path / "vit.onnx", images[:2])
    np.testing.assert_allclose(
        run_artifact("onnx", tmp_path / "vit.onnx", {"images": images}), keras.ops.convert_to_numpy(model(images)), **TOLERANCE
    )


def test_a_file_that_does_not_run_is_reported_and_removed_and_nothing_is_overwritten(rng, tmp_path):
    """Keras' LSTM becomes TensorFlow select ops in TFLite, which TFLite's interpreter lacks."""
    model = zoo.build("bilstm_attention", vocab_size=30, embedding_dim=8, lstm_units=8)
    ids = token_batch(rng, 2, 5, 30)
    with raises_mentioning("TFLite", "saved_model holds every model", error=ExportError):
        export_model(model, "tflite", tmp_path / "model.tflite", ids)
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "model.onnx").write_text("the user's file")
    with raises_mentioning(str(tmp_path / "model.onnx"), "exists", "--output", error=ExportError):
        export_model(model, "onnx", tmp_path / "model.onnx", ids)
    assert (tmp_path / "model.onnx").read_text() == "the user's file"
    with raises_mentioning("'keras'", "saved_model, tflite, onnx", error=ExportError):
        export_model(model, "keras", tmp_path / "model.x", ids)
