"""The image-recognition recipe on slices of the real Fashion-MNIST and MNIST, its pipeline and its errors."""

import json
import math
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
import shared_runs
from event_files import read_images, read_summaries
from tensorboard_client import CLASSIFICATION_SCALARS, check_served

import layers
from recipes import image_recognition as ir
from recipes.training import optimization
from recipes.training.epochs import EpochOrder
from recipes.cli import main
from recipes.data import read_image_dataset
from recipes.training.run import RunDirectory, RunError


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, finished_runs):
    """CBAM-ResNet-20, 3 epochs on 640 Fashion-MNIST images (the notebook's smoke run)."""
    return finished_runs.copy(ir, shared_runs.IMAGE_RECOGNITION, tmp_path_factory.mktemp("fashion_mnist") / "run")


@pytest.fixture(scope="module")
def first_test_images(data_dir):
    """The test images the small runs are evaluated on, read independently of the recipe."""
    test = read_image_dataset("fashion_mnist", data_dir)["test"]
    count = shared_runs.IMAGE_RECOGNITION["max_eval_examples"]
    return test.images[:count], test.labels[:count]


def test_training_on_real_fashion_mnist_lowers_the_loss(finished_run):
    _, result = finished_run
    losses = result.metrics["train_loss_per_epoch"]
    assert losses[-1] < 0.7 * losses[0], losses
    assert (result.metrics["train_images"], result.metrics["test_images"]) == (640, 250)


def test_metrics_agree_with_the_saved_model_on_raw_pixels(finished_run, first_test_images):
    _, result = finished_run
    images, labels = first_test_images
    model = keras.saving.load_model(RunDirectory(result.run_dir).model_file)
    predicted = np.argmax(model.predict(images.astype("float32"), verbose=0), axis=-1)
    metrics = result.metrics
    assert metrics["test_accuracy"] == pytest.approx(np.mean(predicted == labels), abs=1e-9)
    confusion = np.array(metrics["confusion_matrix"])
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(labels, minlength=10))
    np.testing.assert_array_equal(confusion.sum(axis=0), np.bincount(predicted, minlength=10))
    for k, name in enumerate(metrics["class_names"]):
        assert metrics["per_class_accuracy"][name] == pytest.approx(np.mean(predicted[labels == k] == k))


def test_model_normalizes_pixels_with_training_statistics(finished_run, data_dir):
    config, result = finished_run
    train_images = ir.load_data(config)["train"].images
    model = keras.saving.load_model(RunDirectory(result.run_dir).model_file)
    normalize = model.get_layer("normalize")
    pixels = np.asarray(train_images, "float64")
    np.testing.assert_allclose(np.ravel(normalize.mean), [pixels.mean()], rtol=1e-6)
    np.testing.assert_allclose(np.ravel(normalize.variance), [pixels.var()], rtol=1e-6)
    classifier = model.get_layer(config.model)
    x = train_images[:4].astype("float32")
    np.testing.assert_allclose(
        model.predict(x, verbose=0),
        classifier.predict((x - pixels.mean()) / pixels.std(), verbose=0),
        atol=1e-4,
    )


def test_tensorboard_serves_channel_attention_confusion_matrix_and_hparams(finished_run):
    _, result = finished_run
    check_served(
        result.run_dir,
        scalars=CLASSIFICATION_SCALARS,
        images={
            "attention": {"channel_attention/stage1/example_0", "channel_attention_figure/stage3/example_1", "spatial_attention/stage3_block3_cbam/example_1"},
            "test": {"confusion_matrix"},
        },
        texts={},
        hparams=("model", "dataset", "learning_rate"),
    )


def test_run_directory_holds_everything(finished_run):
    config, result = finished_run
    run = RunDirectory(result.run_dir)
    for path in (run.config_file, run.metrics_file, run.model_file, run.labels_file):
        assert path.is_file(), path
    assert json.loads(run.config_file.read_text()) == config.to_dict()
    assert run.labels_file.read_text().splitlines()[0] == "T-shirt/top"
    assert list((run.path / "train").glob("events.out.tfevents.*"))
    assert not run.backup_dir.exists()


def test_evaluate_and_predict_from_arrays_and_files(finished_run, first_test_images, tmp_path):
    _, result = finished_run
    metrics = ir.evaluate(result.run_dir)
    assert metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"], abs=1e-9)
    assert metrics["confusion_matrix"] == result.metrics["confusion_matrix"]

    images, _ = first_test_images
    from_array = ir.predict(result.run_dir, images[:3])
    from_2d = ir.predict(result.run_dir, images[0, :, :, 0])
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"image{i}.png"))
        keras.utils.save_img(paths[-1], images[i], scale=False)
    from_files = ir.predict(result.run_dir, paths)
    assert [p["image"] for p in from_files] == paths
    for array_prediction, other in [*zip(from_array, from_files), (from_array[0], from_2d[0])]:
        assert array_prediction["label"] == other["label"]
        assert sum(array_prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        for name, p in array_prediction["probabilities"].items():
            assert other["probabilities"][name] == pytest.approx(p, abs=1e-5)

    with pytest.raises(ValueError, match=r"takes images of shape \(28, 28, 1\).*received shape \(2, 32, 32, 3\)"):
        ir.predict(result.run_dir, np.zeros((2, 32, 32, 3)))
    with pytest.raises(FileNotFoundError, match="missing.png"):
        ir.predict(result.run_dir, str(tmp_path / "missing.png"))


def test_the_run_exports_to_onnx_normalization_included(finished_run, first_test_images, tmp_path):
    """Keras' Normalization holds captured tensors that tf2onnx makes inputs; the export writes it as Rescaling."""
    import onnxruntime

    _, result = finished_run
    exported = ir.TASK.export(result.run_dir, "onnx", output=tmp_path / "model.onnx")
    assert exported["inputs"] == {"pixels": "float32[None, 28, 28, 1]"} and "0..255" in exported["note"]
    session = onnxruntime.InferenceSession(exported["path"], providers=["CPUExecutionProvider"])
    assert [node.name for node in session.get_inputs()] == ["pixels"]
    pixels = np.asarray(first_test_images[0][-7:], "float32")  # other images than the export checked
    expected = keras.saving.load_model(Path(result.run_dir) / "model.keras").predict(pixels, verbose=0)
    np.testing.assert_allclose(session.run(None, {"pixels": pixels})[0], expected, atol=1e-4, rtol=1e-4)


def test_finished_run_is_not_retrained_and_other_settings_are_refused(finished_run):
    config, result = finished_run
    assert ir.train(config).metrics == result.metrics
    with pytest.raises(RunError, match="differs in: label_smoothing"):
        ir.train(ir.Config(**(config.to_dict() | {"label_smoothing": 0.1})))


@pytest.mark.parametrize("flip", [False, True])
def test_augmentation_crops_the_padded_image_and_maybe_mirrors_it(rng, flip):
    padding = 3
    config = ir.Config(dataset="mnist", crop_padding=padding, horizontal_flip=flip, seed=int(rng.integers(1 << 30)))
    augment = ir.make_augmentation(config, (12, 10, 2))
    seen_flipped = seen_shifted = False
    for index in range(20):
        image = rng.integers(1, 256, size=(12, 10, 2)).astype("uint8")
        augmented = np.asarray(augment(tf.constant(image), 0, tf.constant([config.seed, index], tf.int64))[0])
        padded = np.pad(image.astype("float32"), [(padding, padding), (padding, padding), (0, 0)])
        matches = [
            (dy, dx, mirrored)
            for dy in range(2 * padding + 1)
            for dx in range(2 * padding + 1)
            for mirrored in (False, True)
            if np.array_equal(augmented, (lambda w: w[:, ::-1] if mirrored else w)(padded[dy : dy + 12, dx : dx + 10]))
        ]
        assert matches, "not a crop of the zero-padded image"
        dy, dx, mirrored = matches[0]
        seen_flipped |= mirrored
        seen_shifted |= (dy, dx) != (padding, padding)
        assert flip or not mirrored
    assert seen_shifted and seen_flipped == flip


def test_random_erasing_follows_zhong_et_al_algorithm_1(rng):
    """One rectangle of uniform random pixels in a share `p` of the images; its area U(0.02, 0.4) of the
    image's and its aspect ratio U(0.3, 1/0.3), each side rounded to whole pixels (Zhong et al., Alg. 1)."""
    probability, (height, width), images = float(rng.uniform(0.3, 0.9)), (48, 40), 400
    config = ir.Config(crop_padding=0, horizontal_flip=False, random_erasing=probability, seed=int(rng.integers(1 << 30)))
    augment = tf.function(ir.make_augmentation(config, (height, width, 3)))  # a graph, as in the recipe's tf.data map
    boxes, erased_pixels = [], []
    for index in range(images):
        image = np.full((height, width, 3), 300.0)  # outside 0..255, so every erased pixel shows
        augmented = np.asarray(augment(tf.constant(image, tf.float32), 0, tf.constant([config.seed, index], tf.int64))[0])
        changed = (augmented != image).any(axis=-1)
        if not changed.any():
            continue
        rows, columns = np.nonzero(changed)
        box = (rows.max() - rows.min() + 1, columns.max() - columns.min() + 1)
        assert changed.sum() == box[0] * box[1], "the erased pixels do not form one rectangle"
        boxes.append(box)
        erased_pixels.append(augmented[changed])
    # Binomial(400, p): 5 standard deviations either side.
    assert abs(len(boxes) - probability * images) < 5 * np.sqrt(images * probability * (1 - probability))

    sides = np.array(boxes, "float64")
    low, high = (sides - 0.5).clip(min=0), sides + 0.5  # the sides before rounding
    area = height * width
    assert np.all(high[:, 0] * high[:, 1] >= 0.02 * area) and np.all(low[:, 0] * low[:, 1] <= 0.4 * area)
    assert np.all(high[:, 0] / low[:, 1] >= 0.3) and np.all(low[:, 0] / high[:, 1] <= 1 / 0.3)
    ratios = sides[:, 0] / sides[:, 1]
    assert ratios.min() < 0.5 and ratios.max() > 2.0  # both tall and wide rectangles
    pixels = np.concatenate(erased_pixels).ravel()
    assert pixels.min() >= 0 and pixels.max() <= 255 and np.all(pixels == np.floor(pixels))
    # Uniform over 0..255: mean 127.5, and no value much more frequent than 1/256.
    assert abs(pixels.mean() - 127.5) < 5 and np.bincount(pixels.astype(int), minlength=256).max() < 3 * pixels.size / 256


@pytest.mark.parametrize("channels", [1, 3])
def test_channel_statistics_match_numpy_in_blocks_of_any_size(rng, channels):
    images = rng.integers(0, 256, size=(50, 6, 5, channels), dtype=np.uint8)
    pixels = images.reshape(-1, channels).astype("float64")
    for block in (1, 7, 50, 1024):
        mean, variance = ir.channel_statistics(images, block=block)
        np.testing.assert_allclose(mean, pixels.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(variance, pixels.var(axis=0), rtol=1e-12)


def test_a_class_without_test_images_has_no_accuracy(rng):
    from recipes.classification import classification_report

    labels = np.array([0, 0, 1, 0])
    logits = rng.standard_normal((4, 3))
    report = classification_report(labels, logits, ["cat", "dog", "bird"])
    predicted = logits.argmax(axis=-1)
    assert report["per_class_accuracy"]["cat"] == pytest.approx(np.mean(predicted[[0, 1, 3]] == 0))
    assert report["per_class_accuracy"]["dog"] == float(predicted[2] == 1)
    assert report["per_class_accuracy"]["bird"] is None
    assert report["test_accuracy"] == pytest.approx(np.mean(predicted == labels))


def test_flip_default_follows_the_dataset():
    assert ir.Config(dataset="fashion_mnist").horizontal_flip is True
    assert ir.Config(dataset="mnist").horizontal_flip is False  # a mirrored digit is not a digit
    assert ir.Config(dataset="mnist", horizontal_flip=True).horizontal_flip is True


def test_bad_config_values_are_explained():
    with pytest.raises(ValueError, match=r"Unknown image-recognition model 'bilstm_attention'; choose one of .*resnet20"):
        ir.Config(model="bilstm_attention")
    with pytest.raises(ValueError, match=r"Unknown image dataset 'svhn'; choose one of"):
        ir.Config(dataset="svhn")
    with pytest.raises(ValueError, match=r"`optimizer` must be one of \['sgd', 'adamw'\]; received optimizer='adam'"):
        ir.Config(optimizer="adam")
    with pytest.raises(ValueError, match="crop_padding"):
        ir.Config(crop_padding=-1)
    with pytest.raises(ValueError, match=r"`crop_padding` must be smaller than the images' sides \(28x28\).*received crop_padding=28"):
        ir.make_augmentation(ir.Config(crop_padding=28), (28, 28, 1))  # known once the images are read
    with pytest.raises(ValueError, match="label_smoothing"):
        ir.Config(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"`random_erasing` must be a number in \[0, 1\]; received random_erasing=1.5"):
        ir.Config(random_erasing=1.5)
    assert ir.Config(random_erasing=1.0).random_erasing == 1.0
    for field in ("weight_decay", "random_erasing", "validation_fraction", "momentum"):
        with pytest.raises(ValueError, match=rf"`{field}` must be a number in .*; received {field}=None"):  # `--set {field}=null`
            ir.Config(**{field: None})
    with pytest.raises(ValueError, match=r"`learning_rate` must be a number in \(0, inf\) or None; received learning_rate='0.1'"):
        ir.Config(learning_rate="0.1")
    assert ir.Config(optimizer="adamw").learning_rate < ir.Config(optimizer="sgd").learning_rate  # not SGD's 0.1
    with pytest.raises(ValueError, match=r"Give both `train_dir` and `test_dir`"):
        ir.Config(train_dir="photos/train")
    with pytest.raises(ValueError, match=r"model.num_classes cannot be set: it is the number of classes in the training data"):
        ir.Config(model_options={"num_classes": 5})
    with pytest.raises(ValueError, match=r"model.input_shape cannot be set: .*set `image_size`"):
        ir.Config(model_options={"input_shape": [28, 28, 1], "depth": 8})
    with pytest.raises(ValueError, match=r"`image_size` and `color_mode` apply to image folders"):
        ir.Config(image_size=[32, 32])
    folders = {"train_dir": "photos/train", "test_dir": "photos/test"}
    with pytest.raises(ValueError, match=r"`image_size` must be \[height, width\], two positive integers; received \[32\]"):
        ir.Config(image_size=[32], **folders)
    with pytest.raises(ValueError, match=r"`color_mode` must be one of \['grayscale', 'rgb'\] or None; received color_mode='rgba'"):
        ir.Config(color_mode="rgba", **folders)
    with pytest.raises(ValueError, match=r"`image_size` must be .*received \[True, 4\]"):
        ir.Config(image_size=[True, 4], **folders)
    with pytest.raises(ValueError, match=r"dataset='mnist' and train_dir/test_dir both choose the images; give one or the other"):
        ir.Config(dataset="mnist", **folders)  # `--dataset mnist --set train_dir=...`
    from_folders = ir.Config(**folders)
    assert from_folders.horizontal_flip is False  # unknown images: no mirroring by default
    assert from_folders.train_dir == str(Path("photos/train").resolve())  # the run can be evaluated from anywhere
    assert ir.Config(train_dir=2024, test_dir="t").train_dir == str(Path("2024").resolve())  # `--set train_dir=2024`


def test_warmup_cosine_schedule_follows_its_formula(rng):
    peak, total, warmup = float(rng.uniform(0.01, 1.0)), int(rng.integers(50, 500)), int(rng.integers(1, 40))
    schedule = optimization.warmup_cosine_decay(peak, total, warmup)
    for step in sorted(rng.integers(0, total, size=10)):
        if step < warmup:
            expected = peak * step / warmup
        else:
            expected = peak * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))) / 2
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_the_logged_learning_rate_follows_the_configured_warmup_and_cosine(finished_run):
    """Each epoch ends at step ``(e + 1) S`` of ``T = epochs S`` (S: batches per epoch), after a
    warmup of ``floor(warmup_fraction T)`` steps: the cosine is at ``(step - W) / (T - W)``, 0 at the end."""
    config, result = finished_run
    steps_per_epoch = math.ceil(result.metrics["train_images"] / config.batch_size)
    total = config.epochs * steps_per_epoch
    warmup = int(config.warmup_fraction * total)
    scalars = read_summaries(Path(result.run_dir) / "train", "scalars")
    logged = {step: float(value) for (tag, step), value in scalars.items() if tag == "epoch_learning_rate"}
    progress = {epoch: ((epoch + 1) * steps_per_epoch - warmup) / (total - warmup) for epoch in range(config.epochs)}
    expected = {epoch: config.learning_rate * (1 + math.cos(math.pi * done)) / 2 for epoch, done in progress.items()}
    assert logged.keys() == expected.keys()
    for epoch, value in expected.items():
        assert logged[epoch] == pytest.approx(value, rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_optimizers_decay_kernels_but_not_biases_norms_or_vit_tokens_and_sgd_is_nesterov(rng, name):
    """One step from zero momentum. SGD with Nesterov momentum m moves by ``lr (1 + m) g`` (plain momentum:
    ``lr g``); Adam's first step with a zero gradient moves nothing. Decoupled decay first scales
    the kernels by ``1 - lr wd``; biases, LayerNorm's gamma and beta, and ViT's class token and
    position table keep their values."""
    lr, weight_decay, momentum = 0.1, 0.05, 0.9
    dense, norm = keras.layers.Dense(3), keras.layers.LayerNormalization()
    token, positions = layers.ClassToken(), layers.PositionEmbedding2D(grid_size=2)
    dense.build((None, 4))
    norm.build((None, 3))
    token.build((None, 4, 3))
    positions.build((None, 5, 3))
    variables = [dense.kernel, dense.bias, norm.gamma, norm.beta, token.token, positions.table]
    for variable in variables:
        variable.assign(rng.standard_normal(variable.shape).astype("float32"))
    before = [keras.ops.convert_to_numpy(v) for v in variables]
    gradients = [rng.standard_normal(v.shape).astype("float32") if name == "sgd" else np.zeros(v.shape, "float32")
                 for v in variables]
    optimizer = optimization.make_optimizer(name, lr, weight_decay, momentum=momentum)
    optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in gradients], variables))

    decayed = [True, False, False, False, False, False]
    step = lr * (1 + momentum) if name == "sgd" else 0.0
    for variable, start, gradient, decays in zip(variables, before, gradients, decayed):
        expected = start * (1 - lr * weight_decay if decays else 1.0) - step * gradient
        np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), expected, rtol=1e-5, atol=1e-6)


def test_adamw_takes_the_momentum_as_beta_1(rng):
    """Two Adam steps (Kingma & Ba, 2015, Algorithm 1) with beta_1 = `momentum`: ``m <- b1 m + (1 - b1) g``,
    ``v <- b2 v + (1 - b2) g^2``, ``w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``."""
    lr, momentum, beta_2, epsilon = 0.01, float(rng.uniform(0.3, 0.8)), 0.999, 1e-7
    weights = rng.standard_normal(5).astype("float32")
    variable = keras.Variable(weights)
    optimizer = optimization.make_optimizer("adamw", lr, weight_decay=0.0, momentum=momentum)
    expected, m, v = weights.astype("float64"), 0.0, 0.0
    for t in (1, 2):
        gradient = rng.standard_normal(5).astype("float32")
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
        m, v = momentum * m + (1 - momentum) * gradient, beta_2 * v + (1 - beta_2) * gradient**2
        expected = expected - lr * np.sqrt(1 - beta_2**t) / (1 - momentum**t) * m / (np.sqrt(v) + epsilon)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), expected, rtol=1e-5, atol=1e-6)


def test_cli_trains_and_predicts_image_files(tmp_path, data_dir, capsys):
    run_dir = str(tmp_path / "run")
    argv = ["train", "image-recognition", "--dataset", "mnist", "--model", "eca_resnet20", "--epochs", "1",
            "--data-dir", data_dir, "--run-dir", run_dir, "--set", "max_train_examples=256",
            "--set", "max_eval_examples=128", "--set", "verbose=0", "--set", "model.depth=8", "--json"]
    assert main(argv) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["dataset"] == "mnist" and trained["test_images"] == 128
    assert json.loads((tmp_path / "run" / "config.json").read_text())["horizontal_flip"] is False

    image = read_image_dataset("mnist", data_dir)["test"].images[0]
    keras.utils.save_img(tmp_path / "digit.png", image, scale=False)
    assert main(["predict", run_dir, str(tmp_path / "digit.png")]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert prediction["image"].endswith("digit.png") and prediction["label"] in [str(d) for d in range(10)]


def test_training_pipeline_draws_a_new_crop_for_every_image_and_epoch_the_same_in_every_process(rng):
    image = rng.integers(1, 256, size=(1, 10, 10, 1)).astype("uint8")
    data = ir.datasets.LabeledImages(image.repeat(32, axis=0), np.zeros(32, "int32"), ["a", "b"])
    config = ir.Config(dataset="mnist", crop_padding=2, batch_size=32, seed=int(rng.integers(1 << 30)))

    def first_batch(epoch):
        order = EpochOrder(config.seed)  # a new one: as in a resumed process
        order.on_epoch_begin(epoch)
        return next(iter(ir.make_dataset(data, config, order=order)))

    batch, labels = first_batch(0)
    assert batch.shape == (32, 10, 10, 1) and batch.dtype == tf.float32
    np.testing.assert_array_equal(labels, np.tile([1.0, 0.0], (32, 1)))  # one-hot
    assert len({np.asarray(x).tobytes() for x in batch}) > 8
    np.testing.assert_array_equal(first_batch(1)[0], first_batch(1)[0])
    assert not np.array_equal(first_batch(1)[0], batch)
    evaluation, _ = next(iter(ir.make_dataset(data, config)))
    np.testing.assert_array_equal(evaluation, data.images.astype("float32"))  # no augmentation


def test_colour_images_from_keras_datasets_train_log_and_predict(monkeypatch, rng, tmp_path):
    """CIFAR-10's path (keras.datasets, 32x32 RGB), on random pixels so that no download is needed."""
    splits = [
        (rng.integers(0, 256, size=(size, 32, 32, 3)).astype("uint8"), rng.integers(0, 10, size=(size, 1)).astype("uint8"))
        for size in (120, 40)
    ]
    monkeypatch.delenv(ir.datasets.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: tuple(splits))
    config = ir.Config(
        model="cbam_resnet20", model_options={"depth": 8}, dataset="cifar10", epochs=1, batch_size=32,
        attention_probes=2, verbose=0, run_dir=str(tmp_path / "run"),
    )
    result = ir.train(config)
    assert config.horizontal_flip is True and result.metrics["class_names"][0] == "airplane"
    assert (result.metrics["train_images"], result.metrics["test_images"]) == (108, 40)

    model = keras.saving.load_model(RunDirectory(result.run_dir).model_file)
    assert model.input_shape == (None, 32, 32, 3)
    pixels = ir.load_data(config)["train"].images.reshape(-1, 3).astype("float64")
    np.testing.assert_allclose(np.ravel(model.get_layer("normalize").mean), pixels.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(np.ravel(model.get_layer("normalize").variance), pixels.var(axis=0), rtol=1e-6)

    maps = {tag: image for (tag, _), image in read_images(tmp_path / "run" / ir.ATTENTION_LOG_DIR).items()}
    spatial = [image for tag, image in maps.items() if tag.startswith("spatial_attention/") and tag.endswith("example_1")]
    assert spatial and all(image.shape == (128, 128, 3) for image in spatial)  # over the colour image, 4x

    test_images, _ = splits[1]
    predictions = ir.predict(result.run_dir, test_images[:3])
    assert [p["label"] in result.metrics["class_names"] for p in predictions] == [True] * 3


def test_cli_trains_evaluates_and_predicts_on_image_folders_of_real_fashion_mnist(tmp_path, data_dir, capsys, monkeypatch):
    fashion = read_image_dataset("fashion_mnist", data_dir)
    folder_of = {name: name.replace("/", "-") for name in fashion["train"].class_names}  # "T-shirt/top"
    for split, count in (("train", 300), ("test", 60)):
        images, labels = fashion[split].images[:count, :, :, 0], fashion[split].labels[:count]
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = tmp_path / split / folder_of[fashion[split].class_names[label]]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    argv = ["train", "image-recognition", "--model", "se_resnet20", "--epochs", "1", "--run-dir", "run",
            "--set", "train_dir=train", "--set", "test_dir=test", "--set", "model.depth=8", "--set", "verbose=0", "--json"]
    assert main(argv) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["class_names"] == sorted(folder_of.values())
    assert (trained["train_images"], trained["test_images"]) == (270, 60)
    assert trained["dataset"].startswith("image folders ")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["horizontal_flip"] is False

    run_dir = str(tmp_path / "run")
    model = keras.saving.load_model(RunDirectory(run_dir).model_file)
    assert model.input_shape == (None, 28, 28, 1)  # grayscale PNGs: one channel
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    shutil.rmtree(tmp_path / "train")  # scoring needs only the test folder
    assert main(["evaluate", run_dir]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == trained["test_accuracy"]
    image_file = next((tmp_path / "test").glob("*/0.png"))
    assert main(["predict", run_dir, str(image_file)]) == 0
    expected = np.argmax(model.predict(fashion["test"].images[:1].astype("float32"), verbose=0))
    assert json.loads(capsys.readouterr().out)["label"] == trained["class_names"][expected]
