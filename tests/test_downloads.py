"""Readers without a data directory: what they make of Keras' downloads, and a failed download explained."""

import keras
import numpy as np
import pytest

from recipes import data
from recipes.cli import main

# What Keras raises when the network is out of reach (keras.utils.get_file).
URL_FAILURE = "URL fetch failure on https://example.org/file: None -- [Errno -2] Name or service not known"


@pytest.fixture
def offline(monkeypatch):
    """No data directory, and every Keras download fails as it does without network."""

    def unreachable(*args, **kwargs):
        raise Exception(URL_FAILURE)

    monkeypatch.delenv(data.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(keras.utils, "get_file", unreachable)
    for name in data.IMAGE_DATASETS:
        monkeypatch.setattr(getattr(keras.datasets, name), "load_data", unreachable)


@pytest.mark.parametrize(
    "read, dataset, offline_layout",
    [
        (data.read_sst2, "SST-2 from https://dl.fbaipublicfiles.com/glue/data/SST-2.zip", "sst2/train.tsv"),
        (
            data.read_multi30k,
            "Multi30k from https://raw.githubusercontent.com/multi30k/",
            "multi30k/{train,val,test_2016_flickr}",
        ),
        (data.read_spa_eng, "spa-eng from http://storage.googleapis.com/", "anki-spa-eng/spa-eng.zip"),
        (lambda: data.read_image_dataset("mnist"), "mnist from keras.datasets.mnist", "mnist/train-images-idx3-ubyte.gz"),
        (
            lambda: data.read_image_dataset("fashion_mnist"),
            "fashion_mnist from keras.datasets.fashion_mnist",
            "fashion-mnist/train-images-idx3-ubyte.gz",
        ),
    ],
    ids=["sst2", "multi30k", "spa-eng", "mnist", "fashion_mnist"],
)
def test_a_failed_download_names_the_source_the_cause_and_the_offline_layout(offline, read, dataset, offline_layout):
    with pytest.raises(data.DataError) as raised:
        read()
    message = str(raised.value)
    assert message.startswith(f"Could not download or unpack {dataset}")
    assert URL_FAILURE in message and "Connect to the network once" in message
    assert f"give a data directory (--data-dir or ${data.DATA_DIR_VARIABLE}) holding {offline_layout}" in message


def test_cifar10_without_network_points_to_the_stored_datasets(offline, tmp_path, capsys):
    argv = ["train", "image-recognition", "--dataset", "cifar10", "--run-dir", str(tmp_path / "run")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("zoo train: error: Could not download or unpack cifar10 from keras.datasets.cifar10")
    assert URL_FAILURE in error and data.STORED_IMAGE_DATASETS in error


@pytest.mark.parametrize(
    "name, image_shape, channels, label_shape",
    [("cifar10", (32, 32, 3), 3, (1,)), ("fashion_mnist", (28, 28), 1, ()), ("mnist", (28, 28), 1, ())],
)
def test_keras_datasets_arrays_become_images_with_channels_and_flat_labels(
    monkeypatch, rng, name, image_shape, channels, label_shape
):
    sizes = {"train": int(rng.integers(5, 20)), "test": int(rng.integers(3, 10))}
    arrays = {
        split: (
            rng.integers(0, 256, size=(size, *image_shape)).astype("uint8"),
            rng.integers(0, 10, size=(size, *label_shape)).astype("uint8"),
        )
        for split, size in sizes.items()
    }
    monkeypatch.delenv(data.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(getattr(keras.datasets, name), "load_data", lambda: (arrays["train"], arrays["test"]))

    splits = data.read_image_dataset(name)
    for split, (images, labels) in arrays.items():
        assert splits[split].images.shape == (sizes[split], *image_shape[:2], channels)
        np.testing.assert_array_equal(splits[split].images.reshape(images.shape), images)
        np.testing.assert_array_equal(splits[split].labels, labels.reshape(-1))
        assert splits[split].labels.dtype == np.int32 and splits[split].class_names == data.IMAGE_DATASETS[name][1]
