"""Image recognition: pixels -> augmentation -> normalization -> zoo model -> fit() -> accuracy.

Data: Fashion-MNIST and MNIST from the IDX files in `$ZOO_DATA_DIR`
(`fashion-mnist/`, `mnist/`), else `keras.datasets`; CIFAR-10 from
`keras.datasets`; or your own images, in two folders with a subfolder per
class (`train_dir`, `test_dir`). A validation split is carved from train with
a fixed seed (it picks the best epoch); the test split is only used at the end.

The saved model takes raw pixels (0-255, `(batch, H, W, C)`): the per-channel
normalization learned from the training images is its first layer.

>>> from recipes import image_recognition as ir
>>> result = ir.train(ir.Config(model="se_resnet20", dataset="fashion_mnist", run_dir="runs/fmnist"))
>>> ir.predict("runs/fmnist", images)  # (N, 28, 28, 1) pixels, or image file paths
"""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import zoo
from layers.validation import (
    check_bool, check_non_negative_int, check_number, check_positive_int, check_rate, is_int,
)
from recipes import data as datasets
from recipes import optimization
from recipes.attention_logging import ATTENTION_LOG_DIR, AttentionMapLogger, image_summaries
from recipes.augmentation import random_erasing
from recipes.callbacks import fit
from recipes.classification import TEST_LOG_DIR, classification_report, log_confusion_matrix
from recipes.run import (
    Result, RunDirectory, check_model_task, config_defaults, read_lines, refuse_recipe_model_options, write_lines,
)

TASK = "image-recognition"
DEFAULT_DATASET = "fashion_mnist"
RECIPE_MODEL_OPTIONS = {
    "input_shape": "it is the shape of the training images (set `image_size` to resize your own)",
    "num_classes": "it is the number of classes in the training data",
}
LEARNING_RATES = {"sgd": 0.1, "adamw": 1e-3}  # peak rates: He et al.'s for SGD, Adam's default for AdamW
# Mirror images only where a mirrored image is still of the same class (not digits).
FLIP_BY_DEFAULT = {"fashion_mnist": True, "mnist": False, "cifar10": True}


@dataclasses.dataclass
class Config:
    """Every knob of the recipe. Defaults are the benchmark configuration (Fashion-MNIST).

    `crop_padding`: images are zero-padded by this many pixels per side, then
    randomly cropped back to their size (0 turns it off). `horizontal_flip`:
    `None` mirrors half the training images where the dataset allows it
    (`FLIP_BY_DEFAULT`; not for image folders). `random_erasing`: the
    probability that a training image gets a random rectangle of random pixels
    (Zhong et al. use 0.5; 0 turns it off). The learning rate (`None`: the
    optimizer's in `LEARNING_RATES`) warms up linearly over `warmup_fraction`
    of the steps, then decays to 0 along a cosine. `momentum` is SGD's, or
    AdamW's beta_1. `weight_decay` is Keras' decoupled decay: under
    SGD's momentum 0.9 the default 5e-4 equals an L2 penalty of 5e-5 in the
    papers' (coupled) terms (`recipes.optimization.make_optimizer`).

    `train_dir` and `test_dir` (both or neither; not with another `dataset`) replace `dataset` by your
    images: `<dir>/<class>/<image file>`, read into memory in `color_mode`
    ("grayscale" or "rgb"; `None`: grayscale when every training image is)
    and resized to `image_size` `[H, W]` (`None`: the images must share one size).
    """

    model: str = "se_resnet20"
    model_options: dict = dataclasses.field(default_factory=dict)
    dataset: str = DEFAULT_DATASET
    data_dir: str = None
    train_dir: str = None
    test_dir: str = None
    image_size: list = None
    color_mode: str = None
    validation_fraction: float = 0.1
    max_train_examples: int = None
    max_eval_examples: int = None
    crop_padding: int = 4
    horizontal_flip: bool = None
    random_erasing: float = 0.0
    batch_size: int = 128
    epochs: int = 30
    optimizer: str = "sgd"
    learning_rate: float = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.05
    label_smoothing: float = 0.0
    attention_probes: int = 4  # validation images whose attention is logged each epoch; 0: none
    seed: int = 1337
    run_dir: str = "runs/image_recognition"
    verbose: int = 2

    def __post_init__(self):
        check_model_task(self.model, TASK)
        if self.dataset not in datasets.IMAGE_DATASETS and self.train_dir is None:
            raise ValueError(
                f"Unknown image dataset {self.dataset!r}; choose one of {sorted(datasets.IMAGE_DATASETS)} "
                "or give train_dir and test_dir."
            )
        self.check_image_folder_settings()
        refuse_recipe_model_options(self.model_options, RECIPE_MODEL_OPTIONS)
        if self.optimizer not in optimization.OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.optimizer!r}; choose one of {optimization.OPTIMIZERS}.")
        if self.learning_rate is None:
            self.learning_rate = LEARNING_RATES[self.optimizer]
        check_number("(0, 1)", validation_fraction=self.validation_fraction)
        check_positive_int(batch_size=self.batch_size, epochs=self.epochs)
        check_positive_int(optional=True, max_train_examples=self.max_train_examples, max_eval_examples=self.max_eval_examples)
        check_non_negative_int(attention_probes=self.attention_probes, crop_padding=self.crop_padding)
        check_number("(0, inf)", learning_rate=self.learning_rate)
        check_number("[0, inf)", weight_decay=self.weight_decay)
        check_rate(momentum=self.momentum, warmup_fraction=self.warmup_fraction, label_smoothing=self.label_smoothing)
        check_number("[0, 1]", random_erasing=self.random_erasing)
        check_bool(optional=True, horizontal_flip=self.horizontal_flip)
        if self.horizontal_flip is None:
            self.horizontal_flip = FLIP_BY_DEFAULT[self.dataset] if self.train_dir is None else False

    def check_image_folder_settings(self):
        if (self.train_dir is None) != (self.test_dir is None):
            raise ValueError("Give both `train_dir` and `test_dir` (or neither, for `dataset`).")
        if self.train_dir is not None and self.dataset != DEFAULT_DATASET:
            raise ValueError(
                f"dataset={self.dataset!r} and train_dir/test_dir both choose the images; give one or the other."
            )
        self.train_dir, self.test_dir = datasets.absolute_paths(self.train_dir, self.test_dir)
        if self.train_dir is None and (self.image_size is not None or self.color_mode is not None):
            raise ValueError("`image_size` and `color_mode` apply to image folders (`train_dir`, `test_dir`) only.")
        if self.color_mode not in (None, *datasets.COLOR_MODES):
            raise ValueError(f"`color_mode` must be one of {datasets.COLOR_MODES} or None; received {self.color_mode!r}.")
        if self.image_size is not None:
            size = self.image_size
            if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(is_int(n) and n > 0 for n in size)):
                raise ValueError(f"`image_size` must be [height, width], two positive integers; received {size!r}.")
            self.image_size = list(size)

    def to_dict(self):
        return dataclasses.asdict(self)


def load_data(config):
    """`{"train", "validation", "test"}` as `recipes.data.LabeledImages`."""
    if config.train_dir is None:
        splits = datasets.read_image_dataset(config.dataset, config.data_dir)
    else:
        splits = datasets.read_image_folders(config.train_dir, config.test_dir, config.image_size, config.color_mode)
    full_train, test = splits["train"], splits["test"]
    train_indices, validation_indices = datasets.split_off_validation(
        len(full_train), config.validation_fraction, config.seed
    )
    return {
        "train": full_train.take(train_indices[: config.max_train_examples]),
        "validation": full_train.take(validation_indices[: config.max_eval_examples]),
        "test": scored_test_images(test, config),
    }


def scored_test_images(test, config):
    """The test images a run is scored on: the first `max_eval_examples` (all when None)."""
    return test.take(np.arange(len(test))[: config.max_eval_examples])


# ---------------------------------------------------------------- input pipeline


def make_augmentation(config, image_shape):
    """Per-image training augmentation (Keras' random crop draws one offset per
    batch, so it runs before batching).

    Zero-pad by `crop_padding` and crop a random `H x W` window (He et al.,
    2016, Section 4.2; `keras.layers.RandomCrop`), then mirror left-right with
    probability 1/2 when `horizontal_flip` (`keras.layers.RandomFlip`), then
    with probability `random_erasing` replace a random rectangle by random
    pixels (Zhong et al., 2020, Alg. 1: `recipes.augmentation.random_erasing`).
    """
    height, width, _ = image_shape
    padding = config.crop_padding
    crop = keras.layers.RandomCrop(height, width, seed=config.seed) if padding else None
    flip = keras.layers.RandomFlip("horizontal", seed=config.seed + 1) if config.horizontal_flip else None
    erasing_generator = tf.random.Generator.from_seed(config.seed + 2) if config.random_erasing else None

    def augment(image, label):
        image = tf.cast(image, "float32")
        if crop is not None:
            image = crop(tf.pad(image, [[padding, padding], [padding, padding], [0, 0]]), training=True)
        if flip is not None:
            image = flip(image, training=True)
        if erasing_generator is not None:
            image = random_erasing(image, config.random_erasing, erasing_generator)
        return image, label

    return augment


def make_dataset(data, config, *, training):
    """`tf.data` pipeline of `(pixels float32, one-hot labels)` batches.

    Training: shuffle -> augment -> batch -> prefetch; otherwise batch in order.
    """
    num_classes = len(data.class_names)
    dataset = tf.data.Dataset.from_tensor_slices((data.images, data.labels))
    if training:
        dataset = dataset.shuffle(len(data), seed=config.seed, reshuffle_each_iteration=True)
        dataset = dataset.map(make_augmentation(config, data.images.shape[1:]), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(config.batch_size)
    dataset = dataset.map(lambda images, labels: (tf.cast(images, "float32"), tf.one_hot(labels, num_classes)))
    return dataset.prefetch(tf.data.AUTOTUNE)


def channel_statistics(images, block=1024):
    """Per-channel mean and variance of uint8 images `(N, H, W, C)`, in pixel units.

    ``var = E[x^2] - E[x]^2`` from sums taken `block` images at a time: a float64
    copy of the whole set would take 8 times its memory. The sums of integer
    pixels are exact in float64 (below 2^53 up to 10^11 pixels per channel).
    """
    channels = images.shape[-1]
    sums, squares = np.zeros(channels), np.zeros(channels)
    for start in range(0, len(images), block):
        pixels = images[start : start + block].reshape(-1, channels).astype("float64")
        sums += pixels.sum(axis=0)
        squares += np.square(pixels).sum(axis=0)
    count = images.size // channels
    mean = sums / count
    return mean, squares / count - np.square(mean)


# ---------------------------------------------------------------- model


def build_model(config, train_images, num_classes):
    """`pixels -> Normalization (training-set mean and variance) -> zoo model -> logits`.

    The zoo model (named `config.model`, nested) gets the dataset's image shape
    and classes, then `config.model_options`.
    """
    image_shape = tuple(train_images.shape[1:])
    overrides = {"input_shape": image_shape, "num_classes": num_classes}
    classifier = zoo.build(config.model, **(overrides | config.model_options))
    mean, variance = channel_statistics(train_images)
    pixels = keras.Input(image_shape, name="pixels")
    normalized = keras.layers.Normalization(mean=mean.tolist(), variance=variance.tolist(), name="normalize")(pixels)
    return keras.Model(pixels, classifier(normalized), name=f"{config.model}_on_pixels")


def compile_model(model, config, steps_per_epoch):
    """SGD with Nesterov momentum (or AdamW), warmup + cosine decay, label-smoothed cross-entropy."""
    total_steps = steps_per_epoch * config.epochs
    schedule = optimization.warmup_cosine_decay(
        config.learning_rate, total_steps, int(total_steps * config.warmup_fraction)
    )
    model.compile(
        optimizer=optimization.make_optimizer(config.optimizer, schedule, config.weight_decay, config.momentum),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


# ---------------------------------------------------------------- training and evaluation


def train(config):
    """Trains `config.model` and writes the run directory; resumes an unfinished run.

    Returns:
        `Result` with the metrics of `metrics.json`: test top-1 accuracy,
        per-class accuracy, confusion matrix, best validation accuracy,
        epochs, wall time, training images/s. A finished run with the same
        config is not retrained: its result is returned.
    """
    run = RunDirectory(config.run_dir)
    run.start(config.to_dict(), defaults=config_defaults(Config))
    if run.metrics_file.exists():
        print(f"{run.path} is a finished run with this configuration; not retraining.")
        return Result(str(run.path), run.read_metrics())

    keras.utils.set_random_seed(config.seed)
    splits = load_data(config)
    class_names = splits["train"].class_names
    write_lines(run.labels_file, class_names)
    train_data = make_dataset(splits["train"], config, training=True)
    validation_data = make_dataset(splits["validation"], config, training=False)
    model = build_model(config, splits["train"].images, len(class_names))
    compile_model(model, config, steps_per_epoch=int(train_data.cardinality()))

    fit(
        model, train_data, validation_data, run, config,
        monitor="val_accuracy", mode="max", examples_per_epoch=len(splits["train"]),
        loggers=attention_loggers(run, splits["validation"].images[: config.attention_probes]),
    )
    history = run.read_history()

    best = run.load_model()
    report = classification_metrics(best, splits["test"], config)
    log_confusion_matrix(run.path / TEST_LOG_DIR, report["confusion_matrix"], class_names, step=config.epochs - 1)
    metrics = {
        "model": config.model,
        "dataset": config.dataset if config.train_dir is None else f"image folders {config.train_dir}, {config.test_dir}",
        "parameters": best.count_params(),
        **report,
        "best_validation_accuracy": run.best_saved_value("val_accuracy", "max"),
        "validation_accuracy_per_epoch": history["val_accuracy"],
        "train_loss_per_epoch": history["loss"],
        "epochs": config.epochs,
        "train_images": len(splits["train"]),
        "wall_time_seconds": sum(history["epoch_seconds"]),
        # The median: an epoch slowed by other work on the machine moves it little.
        "train_images_per_second": float(np.median(history["examples_per_second"])),
    }
    run.write_metrics(metrics)
    return Result(str(run.path), metrics)


def classification_metrics(model, test, config):
    """Top-1 accuracy, per-class accuracy and confusion matrix of `model` on `test`."""
    logits = model.predict(make_dataset(test, config, training=False).map(lambda x, y: x), verbose=0)
    return {**classification_report(test.labels, logits, test.class_names), "test_images": len(test)}


def attention_loggers(run, images):
    """`[AttentionMapLogger]` of the probe `images` (raw pixels), or `[]` without images."""
    if not len(images):
        return []
    pixels = np.asarray(images, "float32")
    return [AttentionMapLogger(run.path / ATTENTION_LOG_DIR, pixels, image_summaries(pixels))]


# ---------------------------------------------------------------- finished runs


def load_run(run_dir):
    """`(config, model, class_names)` of a finished run directory."""
    run = RunDirectory(run_dir)
    config = run.stored_config(Config, TASK)
    run.require(run.model_file, run.labels_file)
    model = run.load_model()
    return config, model, read_lines(run.labels_file)


def evaluate(run_dir, data_dir=None):
    """Test metrics (top-1, per class, confusion matrix) of a finished run's best model.

    `data_dir` replaces the run's data directory; a run on image folders reads
    its `test_dir` again, in the model's colour mode and image size.
    """
    config, model, class_names = load_run(run_dir)
    if config.train_dir is None:
        config.data_dir = data_dir or config.data_dir
        test = load_data(config)["test"]
    else:
        test = datasets.read_image_folder_like(config.test_dir, model.input_shape[1:], class_names, config.image_size)
        test = scored_test_images(test, config)
    return classification_metrics(model, test, config)


def image_paths(images):
    """The list of file paths `images` names (one path or a list of them), or `None` for pixels."""
    if isinstance(images, (str, Path)):
        return [images]
    if isinstance(images, (list, tuple)) and images and all(isinstance(image, (str, Path)) for image in images):
        return list(images)
    return None


def read_image_files(paths, image_shape):
    """Pixels `(N, H, W, C)` of image files (PNG, JPEG, ...), read in the model's color mode and resized to `H x W`."""
    mode = datasets.color_mode_of(image_shape)
    return np.stack([datasets.load_image_file(path, mode, image_shape[:2]) for path in paths]).astype("float32")


def pixel_batch(images, image_shape):
    """`images` `(N, H, W, C)` or one image `(H, W, C)` (grayscale also without the channel axis) as float32 `(N, H, W, C)`."""
    height, width, channels = image_shape
    array = np.asarray(images, dtype="float32")
    if channels == 1 and array.shape[-2:] == (height, width):
        array = array[..., None]
    if array.shape == image_shape:
        array = array[None]
    if array.ndim != 4 or array.shape[1:] != image_shape:
        raise ValueError(
            f"This run's model takes images of shape {image_shape} (pixels 0-255), one or a batch"
            f"{' (the channel axis may be left out)' if channels == 1 else ''}; received shape {np.shape(images)}."
        )
    return array


def predict(run_dir, images):
    """Class and class probabilities of each image, from a finished run.

    Args:
        images: pixels (0-255) `(N, H, W, C)` or `(H, W, C)`, or image file paths.

    Returns:
        One dict per image: `{"label", "probabilities": {class: p}}`, plus
        `"image"` (the path) for files.
    """
    _, model, class_names = load_run(run_dir)
    image_shape = tuple(model.input_shape[1:])
    paths = image_paths(images)
    pixels = read_image_files(paths, image_shape) if paths else pixel_batch(images, image_shape)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(pixels, verbose=0)))
    predictions = [
        {"label": class_names[int(np.argmax(p))], "probabilities": {name: float(v) for name, v in zip(class_names, p)}}
        for p in probabilities
    ]
    if paths:
        predictions = [{"image": str(path), **prediction} for path, prediction in zip(paths, predictions)]
    return predictions
