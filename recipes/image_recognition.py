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
    check_bool, check_choice, check_non_negative_int, check_number, check_positive_int, check_text, is_int
)
from recipes import data as datasets
from recipes.training import optimization
from recipes.reporting.attention_logging import ATTENTION_LOG_DIR, AttentionMapLogger, image_summaries
from recipes.data.augmentation import random_erasing
from recipes.classification import ClassificationTask, Labels
from recipes.training.run import read_lines
from recipes.task import BaseConfig, setting

DEFAULT_DATASET = "fashion_mnist"
LEARNING_RATES = {"sgd": 0.1, "adamw": 1e-3}  # peak rates: He et al.'s for SGD, Adam's default for AdamW
# Mirror images only where a mirrored image is still of the same class (not digits).
FLIP_BY_DEFAULT = {"fashion_mnist": True, "mnist": False, "cifar10": True}


def check_image_size(image_size):
    if image_size is not None and not (
        isinstance(image_size, (list, tuple)) and len(image_size) == 2 and all(is_int(n) and n > 0 for n in image_size)
    ):
        raise ValueError(f"`image_size` must be [height, width], two positive integers; received {image_size!r}.")


@dataclasses.dataclass
class Config(BaseConfig):
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
    papers' (coupled) terms (`recipes.training.optimization.make_optimizer`).

    `train_dir` and `test_dir` (both or neither; not with another `dataset`) replace `dataset` by your
    images: `<dir>/<class>/<image file>`, read into memory in `color_mode`
    ("grayscale" or "rgb"; `None`: grayscale when every training image is)
    and resized to `image_size` `[H, W]` (`None`: the images must share one size).

    Fine-tuning: `weights` is a checkpoint of the model's reference implementation (timm's
    `model.safetensors`, a torchvision `.pth`; `zoo.build(..., weights=)`): the model starts from it
    with a new classifier for the data's classes, a ViT's position table resampled to `image_size`,
    and the images normalized as the checkpoint was trained (the `config.json` timm downloads beside
    the file, else ImageNet's mean and std) instead of by their own statistics. `freeze_epochs` trains
    only the classifier for that many epochs first; `layer_decay` (e.g. 0.65 for a ViT-B, as BEiT)
    lowers the rate of each block by that factor from the classifier down (`zoo.objectives.LayerwiseRates`).
    """

    task = "image-recognition"
    recipe_model_options = {
        "input_shape": "it is the shape of the training images (set `image_size` to resize your own)",
        "num_classes": "it is the number of classes in the training data",
    }

    model: str = "se_resnet20"
    dataset: str = setting(DEFAULT_DATASET, help=f"one of {sorted(datasets.IMAGE_DATASETS)}; train_dir and test_dir replace it")
    train_dir: str = setting(None, help="your own training images, a subfolder per class; with test_dir")
    test_dir: str = setting(None, help="your own test images, a subfolder per class; with train_dir")
    image_size: list = setting(None, check_image_size, help="[height, width] your own images are resized to; None: they share one size")
    color_mode: str = setting(None, check_choice, datasets.COLOR_MODES, optional=True, help="of your own images; None: grayscale when every training image is")
    validation_fraction: float = setting(0.1, check_number, "(0, 1)", help="share of the training images held out for validation")
    max_eval_examples: int = setting(None, check_positive_int, optional=True, help="validate and test on the first N images; None: all")
    crop_padding: int = setting(4, check_non_negative_int, help="random crops of the image padded by this many pixels; 0: off")
    horizontal_flip: bool = setting(None, check_bool, optional=True, help="mirror half the training images; None: where the dataset allows it")
    random_erasing: float = setting(0.0, check_number, "[0, 1]", help="probability of erasing a random rectangle of a training image")
    batch_size: int = 128
    epochs: int = 30
    optimizer: str = setting("sgd", check_choice, optimization.OPTIMIZERS, help="sgd (Nesterov momentum) or adamw")
    learning_rate: float = None  # None: the optimizer's in LEARNING_RATES
    momentum: float = setting(0.9, check_number, "[0, 1)", help="SGD's momentum, or AdamW's beta_1")
    weight_decay: float = setting(5e-4, check_number, "[0, inf)", help="decoupled weight decay")
    warmup_fraction: float = setting(0.05, check_number, "[0, 1)", help="share of the steps the learning rate warms up over")
    label_smoothing: float = setting(0.0, check_number, "[0, 1)", help="of the cross-entropy's targets")
    weights: str = setting(None, check_text, optional=True, help="a checkpoint of the model's timm/torchvision reference (model.safetensors, .pth) to fine-tune")
    layer_decay: float = setting(1.0, check_number, "(0, 1]", help="layer-wise learning-rate decay: each block deeper from the classifier learns at this factor more slowly; 1: off")
    freeze_epochs: int = setting(0, check_non_negative_int, help="train only the classifier for the first N epochs (the backbone's rate is 0)")
    run_dir: str = "runs/image_recognition"

    def check_combination(self):
        if self.dataset not in datasets.IMAGE_DATASETS and self.train_dir is None:
            raise ValueError(
                f"Unknown image dataset {self.dataset!r}; choose one of {sorted(datasets.IMAGE_DATASETS)} "
                "or give train_dir and test_dir."
            )
        if (self.train_dir is None) != (self.test_dir is None):
            raise ValueError("Give both `train_dir` and `test_dir` (or neither, for `dataset`).")
        if self.train_dir is not None and self.dataset != DEFAULT_DATASET:
            raise ValueError(
                f"dataset={self.dataset!r} and train_dir/test_dir both choose the images; give one or the other."
            )
        self.train_dir, self.test_dir, self.weights = datasets.absolute_paths(self.train_dir, self.test_dir, self.weights)
        if self.train_dir is None and (self.image_size is not None or self.color_mode is not None):
            raise ValueError("`image_size` and `color_mode` apply to image folders (`train_dir`, `test_dir`) only.")
        if self.image_size is not None:
            self.image_size = list(self.image_size)
        if self.weights is None and (self.freeze_epochs or self.layer_decay != 1):
            raise ValueError(
                "`freeze_epochs` and `layer_decay` fine-tune a pretrained model: give its checkpoint as `weights` "
                f"(received freeze_epochs={self.freeze_epochs}, layer_decay={self.layer_decay}, weights=None)."
            )
        if self.freeze_epochs >= self.epochs:
            raise ValueError(
                f"freeze_epochs={self.freeze_epochs} would train only the classifier for all {self.epochs} epochs; "
                "choose fewer than `epochs`."
            )
        if self.learning_rate is None:
            self.learning_rate = LEARNING_RATES[self.optimizer]
        if self.horizontal_flip is None:
            self.horizontal_flip = FLIP_BY_DEFAULT[self.dataset] if self.train_dir is None else False


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
    """Per-image training augmentation, `augment(image, label, key)`: every random draw comes from the
    image's stateless random `key` (`EpochOrder.examples(..., with_keys=True)`), so an epoch augments
    the same way in a resumed run and in parallel pipelines.

    Zero-pad by `crop_padding` and crop a random `H x W` window (He et al.,
    2016, Section 4.2), then mirror left-right with probability 1/2 when
    `horizontal_flip`, then with probability `random_erasing` replace a random
    rectangle by random pixels (Zhong et al., 2020, Alg. 1:
    `recipes.data.augmentation.random_erasing`).
    """
    padding = config.crop_padding
    if padding >= min(image_shape[:2]):
        raise ValueError(
            f"`crop_padding` must be smaller than the images' sides ({image_shape[0]}x{image_shape[1]}), or a crop "
            f"could hold none of the image; received crop_padding={padding}."
        )

    def augment(image, label, key):
        crop_key, flip_key, erasing_key = tf.unstack(tf.random.experimental.stateless_split(key, 3))
        image = tf.cast(image, "float32")
        if padding:
            padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
            image = tf.image.stateless_random_crop(padded, image_shape, seed=crop_key)
        if config.horizontal_flip:
            image = tf.image.stateless_random_flip_left_right(image, seed=flip_key)
        if config.random_erasing:
            image = random_erasing(image, config.random_erasing, erasing_key)
        return image, label

    return augment


def make_dataset(data, config, *, order=None):
    """`tf.data` pipeline of `(pixels float32, one-hot labels)` batches.

    Training: each epoch's `order` -> augment -> batch -> prefetch; otherwise batch in order.
    """
    num_classes = len(data.class_names)
    if order is None:
        dataset = tf.data.Dataset.from_tensor_slices((data.images, data.labels))
    else:
        dataset = order.examples((data.images, data.labels), with_keys=True)
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


def build_model(config, train_images, num_classes):
    """`pixels -> Normalization -> zoo model -> logits`.

    The zoo model (named `config.model`, nested) gets the dataset's image shape
    and classes, then `config.model_options`. It normalizes with the training
    images' per-channel mean and variance; with `config.weights`, with the
    statistics the checkpoint was trained with (`normalization`).
    """
    image_shape = tuple(train_images.shape[1:])
    overrides = {"input_shape": image_shape, "num_classes": num_classes}
    classifier = zoo.build(config.model, weights=config.weights, **(overrides | config.model_options))
    mean, variance = normalization(config, train_images)
    pixels = keras.Input(image_shape, name="pixels")
    normalized = keras.layers.Normalization(mean=mean.tolist(), variance=variance.tolist(), name="normalize")(pixels)
    return keras.Model(pixels, classifier(normalized), name=f"{config.model}_on_pixels")


def normalization(config, train_images):
    """Per-channel `(mean, variance)` of the model's input in pixel units (0-255): the training images'
    (`channel_statistics`), or the checkpoint's (`zoo.checkpoints.checkpoint_normalization`, on 0-1 RGB)
    when fine-tuning from `config.weights`. Gray images, whose first convolution sums the RGB filters,
    take the average of the three channels' statistics (exact where the three are equal, close for ImageNet's)."""
    if config.weights is None:
        return channel_statistics(train_images)
    mean, std = zoo.checkpoints.checkpoint_normalization(config.weights)
    mean, std = 255 * np.asarray(mean), 255 * np.asarray(std)
    if train_images.shape[-1] == 1:
        mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
    return mean, np.square(std)


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


class ImageRecognition(ClassificationTask):
    examples = "images"
    exported_inputs = (
        "images: float32 pixels in 0..255, of the training images' height, width and channels (the model "
        "normalizes them itself); the outputs are class logits in the order of labels.txt."
    )

    Config = Config

    def load_data(self, config):
        return load_data(config)

    def prepare(self, run, splits, config, *, resuming):
        return Labels(run.keep_lines(run.labels_file, lambda: splits["train"].class_names, resuming))

    def load_prepared(self, run, config):
        return Labels(read_lines(run.labels_file))

    def label_ids(self, split, prepared):
        return split.labels

    def make_dataset(self, split, prepared, config, *, order=None):
        return make_dataset(split, config, order=order)

    def build_model(self, config, prepared, train):
        return build_model(config, train.images, len(prepared.class_names))

    def make_optimizer(self, config, schedule, steps_per_epoch):
        """SGD with Nesterov momentum, or AdamW; with `layer_decay` and `freeze_epochs`, rates of their own."""
        return optimization.make_optimizer(
            config.optimizer, schedule, config.weight_decay, config.momentum,
            layer_decay=config.layer_decay, frozen_steps=config.freeze_epochs * steps_per_epoch,
        )

    def loss(self, config):
        return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)

    def attention_loggers(self, run, validation, prepared, config):
        """`[AttentionMapLogger]` of the first validation images (raw pixels)."""
        pixels = np.asarray(validation.images[: config.attention_probes], "float32")
        return [AttentionMapLogger(run.path / ATTENTION_LOG_DIR, pixels, image_summaries(pixels))]

    def run_metrics(self, config, splits, prepared, history):
        return {
            "dataset": config.dataset if config.train_dir is None else f"image folders {config.train_dir}, {config.test_dir}",
            "validation_accuracy_per_epoch": history["val_accuracy"],
        }

    def test_split(self, config, model, prepared):
        """The run's test images; a run on image folders reads its `test_dir` again, in the model's
        colour mode and image size."""
        if config.train_dir is None:
            return load_data(config)["test"]
        test = datasets.read_image_folder_like(
            config.test_dir, model.input_shape[1:], prepared.class_names, config.image_size
        )
        return scored_test_images(test, config)

    def exportable_model(self, model):
        """The run's model with its `Normalization` written as `Rescaling`: ``(x - m) / s = x (1/s) + (-m/s)``,
        ``s = max(sqrt(variance), epsilon)`` as Keras computes it. The same numbers, held as constants of the
        graph; `Normalization`'s tensors are captured from outside it, which tf2onnx turns into ONNX inputs."""
        normalize, classifier = model.get_layer("normalize"), model.layers[-1]
        mean, variance = (np.ravel(keras.ops.convert_to_numpy(v)) for v in (normalize.mean, normalize.variance))
        scale = 1.0 / np.maximum(np.sqrt(variance), keras.backend.epsilon())
        pixels = keras.Input(model.input_shape[1:], name="pixels")
        rescaled = keras.layers.Rescaling(scale.tolist(), (-mean * scale).tolist(), name="normalize")(pixels)
        return keras.Model(pixels, classifier(rescaled), name=model.name)

    def probabilities(self, model, images, prepared, config):
        """Of pixels (0-255) `(N, H, W, C)` or `(H, W, C)`, or of image files read in the model's shape."""
        image_shape = tuple(model.input_shape[1:])
        paths = image_paths(images)
        pixels = read_image_files(paths, image_shape) if paths else pixel_batch(images, image_shape)
        return keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(pixels, verbose=0)))

    def described(self, images):
        paths = image_paths(images)
        return [{"image": str(path)} for path in paths] if paths else super().described(images)


TASK = ImageRecognition()
train, load_run, evaluate, predict = TASK.train, TASK.load_run, TASK.evaluate, TASK.predict
