"""Every recipe on JAX at smoke size, in one process whose host shows two CPU devices (XLA's flag, set before JAX
starts); prints JSON.

    python jax_recipes.py RUN_ROOT    (under KERAS_BACKEND=jax)

* "text": a text-classification run trained on one device and data parallel on two. 99 sentences in batches of 32:
  batches the devices share, length buckets and an epoch's last batch of 3 that they do not. Both runs' training
  losses, the devices that held their weights, the largest difference of their trained weights, and the message for
  more devices than the host has.
* "image", "translation": a smoke run of each (their metrics and run directories), a prediction and a translation from
  the finished run.

    python jax_recipes.py --process RUN_DIR PROCESSES PROCESS_INDEX COORDINATOR

trains the image run data parallel over PROCESSES processes (each with its two devices), as process PROCESS_INDEX.
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"

import numpy as np  # noqa: E402

from recipes import image_recognition, text_classification, translation  # noqa: E402
from recipes.training.distribution import distributed  # noqa: E402
from recipes.training.run import RunDirectory  # noqa: E402

TEXT = {
    "model": "transformer_classifier_tiny", "model_options": {"num_layers": 1, "dropout": 0.0}, "max_train_examples": 99,
    "vocabulary_size": 300, "batch_size": 32, "epochs": 1, "attention_probes": 0, "verbose": 0,
}


def trained(run_dir, **distribution):
    """The run's training losses, its trained weights, and the devices that held its weights while it trained."""
    devices = []
    compiled_model = text_classification.TASK.compiled_model

    def recording_devices(*args, **kwargs):
        model = compiled_model(*args, **kwargs)
        devices.append(len(model.weights[0].value.sharding.device_set))
        return model

    text_classification.TASK.compiled_model = recording_devices
    try:
        result = text_classification.train(text_classification.Config(run_dir=run_dir, **TEXT, **distribution))
    finally:
        text_classification.TASK.compiled_model = compiled_model
    return result.metrics["train_loss_per_epoch"], RunDirectory(run_dir).load_model().get_weights(), devices


IMAGE = {
    "model": "cbam_resnet20", "model_options": {"depth": 8}, "dataset": "fashion_mnist", "max_train_examples": 64,
    "max_eval_examples": 32, "batch_size": 32, "epochs": 1, "attention_probes": 1, "verbose": 0,
}
TRANSLATION = {
    "model": "transformer_tiny", "model_options": {"hidden_dim": 32, "intermediate_dim": 64, "num_layers": 1},
    "max_train_examples": 64, "max_eval_examples": 4, "vocabulary_size": 300, "max_length": 12, "batch_size": 32,
    "epochs": 1, "beam_size": 2, "bleu_sample_size": 2, "attention_probes": 1, "verbose": 0,
}


def refusal(**arguments):
    try:
        distributed("data_parallel", **arguments)
    except ValueError as error:
        return str(error)


def main(root):
    one_losses, one_weights, one_devices = trained(f"{root}/one")
    two_losses, two_weights, two_devices = trained(f"{root}/two", distribution="data_parallel", devices=2)
    image = image_recognition.train(image_recognition.Config(run_dir=f"{root}/image", **IMAGE))
    pixels = np.random.default_rng(0).integers(0, 256, size=(28, 28, 1))
    translated = translation.train(translation.Config(run_dir=f"{root}/translation", **TRANSLATION))
    print(json.dumps({
        "text": {
            "one_device": one_losses,
            "two_devices": two_losses,
            "devices_holding_the_weights": one_devices + two_devices,
            "largest_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(one_weights, two_weights)),
            "three_devices": refusal(devices=3),
        },
        "image": {**image.metrics, "run_dir": image.run_dir, "prediction": image_recognition.predict(image.run_dir, pixels[None])},
        "translation": {**translated.metrics, "translated": translation.translate(translated.run_dir, ["Ein Hund rennt."])},
    }))


def one_of_processes(run_dir, processes, process_index, coordinator):
    """The image run (`IMAGE`) data parallel over `processes` processes, this one `process_index`."""
    image_recognition.train(image_recognition.Config(
        run_dir=run_dir, **IMAGE, distribution="data_parallel", processes=processes, process_index=process_index,
        coordinator=coordinator,
    ))


if __name__ == "__main__":
    if sys.argv[1] == "--process":  # --process RUN_DIR PROCESSES PROCESS_INDEX COORDINATOR
        one_of_processes(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main(sys.argv[1])
