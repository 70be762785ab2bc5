"""A run's network as a file other runtimes read: TensorFlow SavedModel, TFLite (LiteRT) or ONNX.

`export_model` converts with Keras' `Model.export`, then runs the artifact in its own runtime
(`tf.saved_model`, the TFLite interpreter, ONNX Runtime) on real inputs and compares its outputs
with Keras': a file that does not load, does not run or answers differently is removed and
reported, never left behind as if it worked. It is written under a temporary name and renamed
once checked, so an interrupted export leaves no half file, and an existing path is refused.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from recipes.training.run import RunError

# format -> (Keras' name for it, the file or directory it writes in the run directory)
FORMATS = {
    "saved_model": ("tf_saved_model", "saved_model"),
    "tflite": ("litert", "model.tflite"),
    "onnx": ("onnx", "model.onnx"),
}
TOLERANCE = 1e-4  # |artifact - Keras| <= TOLERANCE * (1 + |Keras|): float32 reassociation, not a different network
EVERY_MODEL = "saved_model holds every model of the zoo"


class ExportError(RunError):
    """The model cannot be written in the asked format, or the written file does not give Keras' outputs."""


def _format(format):
    """`(Keras' name for format, its file name)`; `ExportError` listing the formats for another name."""
    if format not in FORMATS:
        raise ExportError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)}.")
    return FORMATS[format]


def default_path(run_dir, format):
    """Where `format` goes in a run directory: `saved_model/`, `model.tflite` or `model.onnx`."""
    return Path(run_dir) / _format(format)[1]


def export_model(model, format, path, sample, reference=None):
    """Writes `model` as `format` to the new `path`, checked on `sample` inputs against `reference` (default `model`).

    Returns:
        The largest absolute difference between the artifact's outputs and the reference's on `sample`.

    Raises:
        ExportError: `path` exists, the converter fails, or the artifact does not load,
            run, or give Keras' outputs within `TOLERANCE`.
    """
    keras_format = _format(format)[0]
    path = Path(path)
    if path.exists():
        raise ExportError(f"{path} exists; remove it or give another --output (an export never overwrites a file).")
    partial = path.with_name(f".{path.name}.partial{path.suffix}")  # TFLite wants the suffix
    _remove(partial)
    outputs = model(sample, training=False)  # an eager call, which ONNX export needs first
    expected = keras.ops.convert_to_numpy(outputs if reference is None else reference(sample, training=False))
    named = sample if isinstance(sample, dict) else {model.inputs[0].name: sample}
    try:
        _convert(model, format, keras_format, partial)
        difference = _largest_difference(RUNNERS[format](partial, named), expected)
        if not difference <= TOLERANCE * (1 + float(np.max(np.abs(expected)))):
            raise ExportError(
                f"The {format} file gives outputs {difference:.3g} away from the Keras model's (more than float32 "
                f"rounding); it was not kept. {EVERY_MODEL}."
            )
        os.replace(partial, path)
        return difference
    finally:
        _remove(partial)


def _convert(model, format, keras_format, path):
    if format == "onnx":
        _require("tf2onnx", "onnxruntime")
        _register_erfc()
    try:
        model.export(str(path), format=keras_format, verbose=False)
    except Exception as error:  # the converters raise anything from ValueError to ConverterError
        raise ExportError(f"{format} cannot hold {model.name}: {_first_line(error)}. {EVERY_MODEL}.") from None


def _largest_difference(outputs, expected):
    outputs = np.asarray(outputs)
    if outputs.shape != expected.shape or not np.isfinite(outputs).all():
        return float("inf")
    return float(np.max(np.abs(outputs - expected)))


def _run_saved_model(path, named):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # held while it runs: its functions do not hold their variables
    return loaded.serve(named if len(named) > 1 else next(iter(named.values()))).numpy()


def _run_tflite(path, named):
    import tensorflow as tf

    runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner()
    try:
        (outputs,) = runner(**named).values()
    except RuntimeError as error:  # e.g. recurrent layers, which need TensorFlow's select ops (the Flex delegate)
        raise ExportError(f"The TFLite file does not run in TFLite's interpreter: {_first_line(error)}. {EVERY_MODEL}.") from None
    return outputs


def _run_onnx(path, named):
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        extra = sorted({node.name for node in session.get_inputs()} - set(named))
        outputs = None if extra else session.run(None, named)[0]
    except Exception as error:  # onnxruntime's own exception types, one per failure
        raise ExportError(f"The ONNX file does not run in ONNX Runtime: {_first_line(error)}. {EVERY_MODEL}.") from None
    if extra:  # e.g. keras.layers.Normalization's mean and variance, constants captured by the traced call
        raise ExportError(
            f"The ONNX file asks for inputs the model does not have ({', '.join(extra)}): tf2onnx turned constants of "
            f"the model into inputs. {EVERY_MODEL}."
        )
    return outputs


RUNNERS = {"saved_model": _run_saved_model, "tflite": _run_tflite, "onnx": _run_onnx}


def _register_erfc():
    """Teaches tf2onnx TensorFlow's `Erfc` (exact GELU, as in ViT and BERT-style blocks) as ``1 - erf(x)``.

    tf2onnx converts `Erf` but not `Erfc`, and leaves it in the graph, where ONNX Runtime refuses it.
    Registering again replaces the same entry.
    """
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            node.type = "Erf"
            one = ctx.make_const(utils.make_name("erfc_one"), np.array(1, utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))))
            ctx.insert_new_node_on_output("Sub", node.output[0], inputs=[one.output[0], node.output[0]], name=utils.make_name(node.name))


def _require(*modules):
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)}: pip install \"attention-zoo[export]\".")


def _first_line(error):
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0].rstrip(".")


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
