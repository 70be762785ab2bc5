"""Benchmark: what each attention block costs per training step, every image model timed back to back.

The full runs' images/s (`image_recognition_<model>.json`) average 30 epochs and
move with whatever else shares the machine, and different runs may land on
different machines. This times the recipe's own model and training step
(`build_model` + `compile_model`: normalization, the zoo model, SGD with
momentum, batch 128) on one batch of real Fashion-MNIST pixels, for every
model in one process: `rounds` rounds, each timing `steps` steps of every
model in turn, after 3 warm-up steps. The median round gives each model's
images/s, so slow spells of the host hit all models alike. The input pipeline
(augmentation) is left out; it is the same for every model. Writes
`benchmarks/results/image_training_speed.json`. Not a test.

    python benchmarks/image_training_speed.py [--models NAME ...] [--steps 10] [--rounds 3]
"""

import argparse
import json
import statistics

import numpy as np
from common import RESULTS, machine, seconds_per_step

from recipes import image_recognition

MODELS = ["resnet20", "se_resnet20", "eca_resnet20", "cbam_resnet20", "se_resnet56", "vit_small_images"]
WARMUP_STEPS = 3


def training_step(model_name, batch):
    """A compiled model of the image recipe and a function running one training step on `batch`."""
    config = image_recognition.Config(model=model_name)
    images, labels = batch
    model = image_recognition.build_model(config, images, labels.shape[-1])
    image_recognition.TASK.compile_model(model, config, steps_per_epoch=100)
    for _ in range(WARMUP_STEPS):
        model.train_on_batch(images, labels)
    return model, lambda: model.train_on_batch(images, labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    config = image_recognition.Config()
    train = image_recognition.load_data(config)["train"]
    images = train.images[: config.batch_size].astype("float32")
    labels = np.eye(len(train.class_names), dtype="float32")[train.labels[: config.batch_size]]

    steps = {name: training_step(name, (images, labels)) for name in args.models}
    times = {name: [] for name in args.models}
    for _ in range(args.rounds):
        for name, (_, step) in steps.items():
            times[name].append(seconds_per_step(step, args.steps))
    rows = []
    for name, (model, _) in steps.items():
        seconds = statistics.median(times[name])
        row = {
            "model": name,
            "parameters": model.count_params(),
            "milliseconds_per_step": round(1000 * seconds, 1),
            "images_per_second": round(config.batch_size / seconds, 1),
        }
        print(row, flush=True)
        rows.append(row)
    path = RESULTS / "image_training_speed.json"
    record = {
        "benchmark": "image_training_speed",
        "dataset": "Fashion-MNIST, one training batch of real pixels",
        "batch_size": config.batch_size,
        "steps": args.steps,
        "rounds": args.rounds,
        "rows": rows,
        "machine": machine(),
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
