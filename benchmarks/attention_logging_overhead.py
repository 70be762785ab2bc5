"""Benchmark: what the attention logging adds to a training epoch, for each recipe's benchmark models.

At the end of every epoch `AttentionMapLogger` runs the probe examples (4 by
default) through the model, collects the attention maps, and writes the exact
maps and the labeled figures. This times that step (the median of 3 calls
after a warm-up call) on the real data at the recipes' default settings and
divides it by the epoch time of the model's benchmark run on the same machine
(`benchmarks/results/<task>_<model>.json`). The models are untrained: they
write the longest translations, so the translation figure is an upper bound.
Writes `benchmarks/results/attention_logging_overhead.json`. Not a test.

    python benchmarks/attention_logging_overhead.py
"""

import json
import statistics
import tempfile
import time

from common import RESULTS, machine

from recipes.training.run import RunDirectory
from recipes.task import get_task

MODELS = {
    "text-classification": ["bilstm_attention", "transformer_classifier_small"],
    "translation": ["transformer_small", "seq2seq_bahdanau"],
    "image-recognition": ["se_resnet20", "cbam_resnet20", "vit_small_images"],
}


def untrained_model_and_logger(task, model_name, run):
    """The recipe's model for its default data, untrained, and the attention logger of its run."""
    config = task.Config(model=model_name, run_dir=str(run.path))
    splits = task.load_data(config)
    prepared = task.prepare(run, splits, config, resuming=False)
    model = task.build_model(config, prepared, splits["train"])
    return model, task.attention_loggers(run, splits["validation"], prepared, config)[0]


def seconds_per_logging(model, logger, calls=3):
    logger.set_model(model)
    logger.on_train_begin()
    logger.on_epoch_end(0)  # warm-up: tracing, first figure
    times = []
    for epoch in range(1, calls + 1):
        start = time.perf_counter()
        logger.on_epoch_end(epoch)
        times.append(time.perf_counter() - start)
    logger.on_train_end()
    return statistics.median(times)


def main():
    rows = []
    for task, models in MODELS.items():
        for model_name in models:
            with tempfile.TemporaryDirectory() as directory:
                model, logger = untrained_model_and_logger(get_task(task), model_name, RunDirectory(directory))
                seconds = seconds_per_logging(model, logger)
            benchmark = RESULTS / f"{task.replace('-', '_')}_{model_name}.json"
            row = {"task": task.replace("-", "_"), "model": model_name, "logging_seconds_per_epoch": round(seconds, 3)}
            if benchmark.is_file():
                record = json.loads(benchmark.read_text())
                epoch_seconds = record["wall_time_seconds"] / record["epochs"]
                row |= {"epoch_seconds": round(epoch_seconds, 1), "overhead": round(seconds / epoch_seconds, 4)}
            print(row, flush=True)
            rows.append(row)
    path = RESULTS / "attention_logging_overhead.json"
    path.write_text(json.dumps({"rows": rows, "probes": 4, "machine": machine()}, indent=2) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
