"""Image dataset readers on the real IDX files, and their errors on broken ones."""

import gzip

import numpy as np
import pytest

from recipes.data import DataError, read_idx, read_image_dataset


# Test images per class: Fashion-MNIST is balanced; MNIST's counts as published by LeCun et al.
PUBLISHED_TEST_COUNTS = {
    "fashion_mnist": [1000] * 10,
    "mnist": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_reads_the_real_idx_files(data_dir, name):
    splits = read_image_dataset(name, data_dir)
    assert splits["train"].images.shape == (60000, 28, 28, 1) and splits["test"].images.shape == (10000, 28, 28, 1)
    assert splits["train"].images.dtype == np.uint8 and splits["train"].images.max() == 255
    np.testing.assert_array_equal(np.bincount(splits["test"].labels, minlength=10), PUBLISHED_TEST_COUNTS[name])
    assert len(splits["train"].class_names) == 10


def write_idx(path, array, magic=None):
    header = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def test_idx_round_trip_and_header_errors(tmp_path, rng):
    images = rng.integers(0, 256, size=(5, 4, 3))
    write_idx(tmp_path / "ok.gz", images)
    np.testing.assert_array_equal(read_idx(tmp_path / "ok.gz", 3, "layout"), images)

    write_idx(tmp_path / "magic.gz", images, magic=bytes([0, 0, 9, 3]))
    with pytest.raises(DataError, match=r"magic.gz: not an IDX file .*magic number 00000903, expected 00000803"):
        read_idx(tmp_path / "magic.gz", 3, "layout")
    with pytest.raises(DataError, match="expected 00000801"):
        read_idx(tmp_path / "ok.gz", 1, "layout")

    raw = gzip.decompress((tmp_path / "ok.gz").read_bytes())
    (tmp_path / "short.gz").write_bytes(gzip.compress(raw[:-7]))
    with pytest.raises(DataError, match=r"short.gz: the header gives shape \(5, 4, 3\) \(60 bytes.*holds 53: truncated"):
        read_idx(tmp_path / "short.gz", 3, "layout")

    (tmp_path / "corrupt.gz").write_bytes((tmp_path / "ok.gz").read_bytes()[:20])
    with pytest.raises(DataError, match=r"Cannot read .*corrupt.gz"):
        read_idx(tmp_path / "corrupt.gz", 3, "layout")


def test_dataset_errors_name_the_files(tmp_path, rng):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    with pytest.raises(DataError, match=r"Missing data file .*train-images-idx3-ubyte.gz.*t10k-labels-idx1-ubyte.gz"):
        read_image_dataset("fashion_mnist", tmp_path)
    for split, count in (("train", 6), ("t10k", 4)):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, size=(count, 28, 28)))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, size=count + (split == "t10k")))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz holds 4 images but .*t10k-labels-idx1-ubyte.gz holds 5"):
        read_image_dataset("fashion_mnist", tmp_path)
    with pytest.raises(ValueError, match=r"Unknown image dataset 'svhn'; choose one of \['cifar10', 'fashion_mnist', 'mnist'\]"):
        read_image_dataset("svhn", tmp_path)
