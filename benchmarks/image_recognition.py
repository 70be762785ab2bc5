"""Benchmark: ResNet-20 without and with SE, ECA or CBAM, and a small ViT, on full Fashion-MNIST.

Trained on the 60,000 training images minus a 10% validation split, scored on the
10,000 test images.

Every model gets the same schedule (the recipe's defaults: 30 epochs of SGD with
Nesterov momentum, 5% warmup then cosine decay, random crops and flips), so the
table shows what each attention block buys. Writes
`benchmarks/results/image_recognition_<model>.json` (test top-1 and per-class
accuracy, epochs, wall time, training images/s, machine, command). Not a test.
Runs are resumable: run the same command again after an interruption.

    python benchmarks/image_recognition.py [--models NAME ...] [--set key=value ...]
"""

from common import run_benchmarks
from recipes.task import get_task


def figures(metrics):
    return {
        "test_accuracy": metrics["test_accuracy"],
        "per_class_accuracy": metrics["per_class_accuracy"],
        "best_validation_accuracy": metrics["best_validation_accuracy"],
        "train_images_per_second": metrics["train_images_per_second"],
        "train_images": metrics["train_images"],
    }


if __name__ == "__main__":
    run_benchmarks(
        benchmark="image_recognition",
        task=get_task("image-recognition"),
        models=["se_resnet20", "resnet20", "eca_resnet20", "cbam_resnet20", "vit_small_images"],
        figures=figures,
        description=__doc__.splitlines()[0],
    )
