"""Runs trained once per test session and shared by the recipe tests and the notebooks.

Training is most of the suite's time. Each configuration below is trained once per session: the first test
that asks trains it into the session's shared directory, under a file lock, so a test in the other xdist process
waits for it instead of training it again; every test gets a copy of its own to read, change or resume. A
notebook's smoke setting is one of these runs: tests/test_notebooks.py puts a copy where the notebook trains,
whose `train` then returns the finished run (a notebook whose settings differ gets `RunError`, "differs in: ...").
"""

import fcntl
import hashlib
import json
import shutil
from pathlib import Path

# The recipe tests' finished runs, which are also the notebooks' smoke settings; `data_dir` is $ZOO_DATA_DIR.
TEXT_CLASSIFICATION = {
    "model": "bilstm_attention", "max_train_examples": 1500, "vocabulary_size": 1000, "batch_size": 32,
    "epochs": 3, "learning_rate": 3e-3, "verbose": 0,
}
IMAGE_RECOGNITION = {
    "model": "cbam_resnet20", "dataset": "fashion_mnist", "max_train_examples": 640, "max_eval_examples": 250,
    "batch_size": 32, "epochs": 3, "learning_rate": 0.05, "attention_probes": 2, "verbose": 0,
}
TRANSLATION = {
    "max_train_examples": 500, "max_eval_examples": 40, "vocabulary_size": 600, "max_length": 24, "batch_size": 32,
    "epochs": 3, "learning_rate": 2e-3, "beam_size": 2, "bleu_sample_size": 20, "attention_probes": 2, "verbose": 0,
}
TIME_SERIES = {"model": "se_fcn", "dataset": "GunPoint", "epochs": 25, "verbose": 0}
TIME_SERIES_TRANSFORMER = {
    "model": "series_transformer", "epochs": 1, "attention_probes": 2, "verbose": 0,
    "model_options": {"hidden_dim": 16, "num_layers": 1, "num_heads": 2, "intermediate_dim": 32},
}
# Each translation model at a smoke size: (model_options, further settings).
TRANSLATION_MODELS = {
    "transformer_tiny": ({"hidden_dim": 64, "intermediate_dim": 128}, {}),
    "seq2seq_bahdanau": ({"embedding_dim": 32, "encoder_units": 32, "decoder_units": 64, "attention_units": 32}, {"clip_norm": 1.0}),
    "seq2seq_luong": ({"embedding_dim": 32, "units": 64, "num_layers": 1}, {"clip_norm": 1.0}),
}


def translation_settings(model):
    model_options, settings = TRANSLATION_MODELS[model]
    return TRANSLATION | {"model": model, "model_options": model_options, **settings}


class FinishedRuns:
    """Finished runs under `root` (a directory every xdist process of the session sees), by configuration."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(exist_ok=True)

    def shared(self, recipe, settings):
        """The shared directory of `recipe` (a recipe module) trained with `settings`, trained first if need be."""
        key = hashlib.sha256(json.dumps([recipe.__name__, settings], sort_keys=True).encode()).hexdigest()[:16]
        run_dir = self.root / key
        with open(self.root / f"{key}.lock", "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not (run_dir / "metrics.json").is_file():
                recipe.train(recipe.Config(run_dir=str(run_dir), **settings))
        return run_dir

    def copy(self, recipe, settings, destination):
        """`(config, result)` of a copy at `destination` of the finished run of `settings`."""
        shutil.copytree(self.shared(recipe, settings), destination)
        config = recipe.Config(run_dir=str(destination), **settings)
        return config, recipe.train(config)  # finished: not retrained
