"""Image dataset readers on the real IDX files, and their errors on broken ones."""

import gzip

import numpy as np
import pytest
from PIL import Image

from recipes.data import DataError, read_idx, read_image_dataset, read_image_folder, read_image_folders


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


def write_images(folder, images_by_class):
    """`folder/<class>/<i>.png` for each `(H, W)` or `(H, W, 3)` uint8 image; the paths, in order."""
    paths = []
    for name, images in images_by_class.items():
        (folder / name).mkdir(parents=True)
        for i, image in enumerate(images):
            paths.append(folder / name / f"{i}.png")
            Image.fromarray(image).save(paths[-1])
    return paths


def test_image_folder_round_trip_with_classes_from_subfolders(tmp_path, rng):
    gray = {
        name: rng.integers(0, 256, size=(int(rng.integers(1, 4)), 6, 10), dtype=np.uint8) for name in ("dog", "cat", "ant")
    }
    write_images(tmp_path / "gray", gray)
    read = read_image_folder(tmp_path / "gray")
    assert read.class_names == ["ant", "cat", "dog"] and read.images.shape[1:] == (6, 10, 1)
    np.testing.assert_array_equal(read.images[..., 0], np.concatenate([gray[name] for name in read.class_names]))
    np.testing.assert_array_equal(read.labels, np.repeat([0, 1, 2], [len(gray[name]) for name in read.class_names]))
    assert read_image_folder(tmp_path / "gray", color_mode="rgb").images.shape[1:] == (6, 10, 3)

    colour = rng.integers(0, 256, size=(2, 6, 10, 3), dtype=np.uint8)
    gray_as_rgb = np.repeat(gray["dog"][..., None], 3, axis=-1)  # red = green = blue: a gray image stored as RGB
    write_images(tmp_path / "colour", {"a": colour, "b": gray_as_rgb})
    read = read_image_folder(tmp_path / "colour")
    np.testing.assert_array_equal(read.images, np.concatenate([colour, gray_as_rgb]))
    assert read_image_folder(tmp_path / "colour", color_mode="grayscale").images.shape[-1] == 1
    write_images(tmp_path / "gray_as_rgb", {"dog": gray_as_rgb})
    np.testing.assert_array_equal(read_image_folder(tmp_path / "gray_as_rgb").images[..., 0], gray["dog"])
    # A test folder may lack classes; its labels follow the training classes.
    (tmp_path / "test" / "b").mkdir(parents=True)
    Image.fromarray(colour[0]).save(tmp_path / "test" / "b" / "0.png")
    np.testing.assert_array_equal(read_image_folder(tmp_path / "test", class_names=["a", "b"]).labels, [1])


def test_image_folder_resizes_to_height_by_width_bilinearly(tmp_path, rng):
    images = rng.integers(0, 256, size=(3, 6, 10, 3), dtype=np.uint8)
    write_images(tmp_path, {"only": images})
    height, width = int(rng.integers(3, 20)), int(rng.integers(3, 20))
    read = read_image_folder(tmp_path, image_size=[height, width], color_mode="rgb")
    expected = [np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR)) for image in images]
    np.testing.assert_array_equal(read.images, np.stack(expected))


def test_image_folder_errors_name_the_folder_or_file(tmp_path, rng):
    def pixels(height, width):
        return [rng.integers(0, 256, size=(height, width), dtype=np.uint8)]

    with pytest.raises(DataError, match=r"No image folder .*missing'; expected one subfolder per class"):
        read_image_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match=r"flat holds no class subfolders"):
        read_image_folder(tmp_path / "flat")
    (tmp_path / "notes" / "x").mkdir(parents=True)
    (tmp_path / "notes" / "x" / "readme.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"notes/x holds no images; expected one subfolder per class"):
        read_image_folder(tmp_path / "notes")

    a, b = write_images(tmp_path / "mixed", {"x": pixels(4, 4), "y": pixels(4, 5)})
    differ = rf"the images differ in size: {a} is \(4, 4\) and {b} is \(4, 5\) .*give image_size"
    with pytest.raises(DataError, match=differ):
        read_image_folder(tmp_path / "mixed")
    (tmp_path / "mixed" / "y" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"Cannot read the image .*broken.png"):
        read_image_folder(tmp_path / "mixed", image_size=[4, 4])

    write_images(tmp_path / "train", {"x": pixels(4, 4), "y": pixels(4, 4)})
    write_images(tmp_path / "test", {"z": pixels(4, 4)})
    with pytest.raises(DataError, match=r"test: the classes \['z'\] are not among the training classes \['x', 'y'\]"):
        read_image_folders(tmp_path / "train", tmp_path / "test")
    write_images(tmp_path / "one_class", {"x": pixels(4, 4)})
    with pytest.raises(DataError, match=r"one_class holds one class subfolder, \['x'\]; a classifier needs at least two"):
        read_image_folders(tmp_path / "one_class", tmp_path / "test")
    write_images(tmp_path / "small", {"y": pixels(3, 3)})
    with pytest.raises(DataError, match=r"The images in .*small are \(3, 3\) but the training images are \(4, 4\)"):
        read_image_folders(tmp_path / "train", tmp_path / "small")


def test_image_folder_skips_hidden_entries_and_reads_nested_folders(tmp_path, rng):
    images = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
    write_images(tmp_path / "train", {"a": images[:1], "b": images[1:2]})
    (tmp_path / "train" / "b" / "more").mkdir()
    Image.fromarray(images[2]).save(tmp_path / "train" / "b" / "more" / "2.png")
    (tmp_path / "train" / "a" / "._0.png").write_bytes(b"macOS resource fork, not an image")
    (tmp_path / "train" / "a" / "folder.png").mkdir()
    for junk in (tmp_path / "train" / ".ipynb_checkpoints", tmp_path / "train" / "a" / ".cache"):
        junk.mkdir()
        Image.fromarray(images[0]).save(junk / "0.png")
    read = read_image_folder(tmp_path / "train")
    assert read.class_names == ["a", "b"]
    np.testing.assert_array_equal(read.images[..., 0], images)
    np.testing.assert_array_equal(read.labels, [0, 1, 1])


def test_sixteen_bit_images_keep_their_high_byte(tmp_path, rng):
    deep = rng.integers(0, 1 << 16, size=(5, 6), dtype=np.uint16)
    (tmp_path / "x").mkdir()
    Image.fromarray(deep).save(tmp_path / "x" / "deep.png")
    assert Image.open(tmp_path / "x" / "deep.png").mode.startswith("I")  # stored with 16 bits
    for color_mode, channels in ((None, 1), ("grayscale", 1), ("rgb", 3)):
        read = read_image_folder(tmp_path, color_mode=color_mode).images[0]
        np.testing.assert_array_equal(read, np.repeat((deep >> 8).astype(np.uint8)[..., None], channels, axis=-1))


def test_a_truncated_image_is_named(tmp_path, rng):
    write_images(tmp_path, {"x": rng.integers(0, 256, size=(1, 40, 40, 3), dtype=np.uint8)})
    path = tmp_path / "x" / "0.png"
    path.write_bytes(path.read_bytes()[:200])
    for image_size in (None, [8, 8]):
        with pytest.raises(DataError, match=rf"Cannot read the image {path} \(.*truncated"):
            read_image_folder(tmp_path, image_size=image_size)
