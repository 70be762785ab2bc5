"""Labeled images: Fashion-MNIST and MNIST (IDX files), CIFAR-10, and your own folders of images."""

import dataclasses
import gzip
import zlib
from pathlib import Path

import keras
import numpy as np
import PIL.Image

from recipes.data.sources import DataError, download, offline_copy, resolve_data_dir

# ---------------------------------------------------------------- images

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IDX_LAYOUT = (
    "{dir}/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
    "t10k-labels-idx1-ubyte.gz: gzip-compressed IDX files of unsigned bytes (images N x 28 x 28, labels N)"
)
IMAGE_DATASETS = {
    "fashion_mnist": (
        "fashion-mnist",
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    ),
    "mnist": ("mnist", [str(digit) for digit in range(10)]),
    "cifar10": (
        None,
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    ),
}

# How to train on images without a download (CIFAR-10 has no stored copy): the `offline` phrase of `download`.
STORED_IMAGE_DATASETS = "train on fashion_mnist or mnist, read from a data directory"


@dataclasses.dataclass
class LabeledImages:
    """`images` `(N, H, W, C)` uint8 and integer `labels` `(N,)`; `class_names[label]` names a label."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list

    def __len__(self):
        return len(self.labels)

    def take(self, indices):
        return LabeledImages(self.images[indices], self.labels[indices], self.class_names)


def read_idx(path, ndim, layout):
    """The unsigned-byte array of a gzip-compressed IDX file (LeCun et al.), header checked.

    The header is two zero bytes, the type code 0x08 (unsigned byte), the number
    of dimensions, then each dimension as a big-endian int32; the data must
    hold exactly their product of bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Missing data file {str(path)!r}; expected {layout}.")
    try:
        with gzip.open(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"Cannot read {path} ({error}); expected {layout}.") from error
    header_size = 4 + 4 * ndim
    if len(raw) < header_size or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise DataError(
            f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s) (magic number "
            f"{raw[:4].hex() or 'missing'}, expected 0000080{ndim}); expected {layout}."
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(raw) - header_size != size:
        raise DataError(
            f"{path}: the header gives shape {shape} ({size} bytes of data) but the file holds "
            f"{len(raw) - header_size}: truncated or not this dataset's file; expected {layout}."
        )
    return np.frombuffer(raw, np.uint8, offset=header_size).reshape(shape)


def _idx_split(directory, split, class_names, layout):
    images_file, labels_file = (directory / name for name in IDX_FILES[split])
    images, labels = read_idx(images_file, 3, layout), read_idx(labels_file, 1, layout)
    if len(images) != len(labels):
        raise DataError(
            f"{images_file} holds {len(images)} images but {labels_file} holds {len(labels)} labels; expected {layout}."
        )
    if labels.max(initial=0) >= len(class_names):
        raise DataError(f"{labels_file}: label {labels.max()} is not one of the {len(class_names)} classes.")
    return LabeledImages(images[..., None], labels.astype("int32"), class_names)


def read_image_dataset(name, data_dir=None):
    """`{"train", "test"}` as `LabeledImages` for "fashion_mnist", "mnist" or "cifar10".

    Fashion-MNIST and MNIST come from the IDX files under `data_dir` (or
    `$ZOO_DATA_DIR`), else from `keras.datasets`; CIFAR-10 always from
    `keras.datasets` (it needs the network the first time).
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"Unknown image dataset {name!r}; choose one of {sorted(IMAGE_DATASETS)}.")
    folder, class_names = IMAGE_DATASETS[name]
    data_dir = resolve_data_dir(data_dir) if folder else None
    if data_dir is not None:
        layout = IDX_LAYOUT.format(dir=folder)
        return {split: _idx_split(data_dir / folder, split, class_names, layout) for split in IDX_FILES}
    offline = offline_copy(IDX_LAYOUT.format(dir=folder)) if folder else STORED_IMAGE_DATASETS
    splits = download(name, f"keras.datasets.{name}", getattr(keras.datasets, name).load_data, offline)
    return {
        split: LabeledImages(
            images if images.ndim == 4 else images[..., None], labels.reshape(-1).astype("int32"), class_names
        )
        for split, (images, labels) in zip(("train", "test"), splits)
    }


IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
IMAGE_FOLDER_LAYOUT = (
    "one subfolder per class, named after the class, holding that class's images "
    f"({', '.join(IMAGE_FILE_SUFFIXES)}; also in deeper subfolders; names starting with '.' are skipped)"
)
COLOR_MODES = ("grayscale", "rgb")


def color_mode_of(image_shape):
    """The `color_mode` that reads images into `image_shape` `(H, W, C)`: "grayscale" for C = 1, else "rgb"."""
    return "grayscale" if image_shape[-1] == 1 else "rgb"


def load_image_file(path, color_mode, size=None):
    """Pixels `(H, W, C)` uint8 of an image file, in `color_mode` ("grayscale", C = 1, or "rgb", C = 3),
    resized to `size` `(H, W)` with bilinear interpolation (`None`: as stored).

    16-bit images keep their 8 high bits; an alpha channel is dropped (as
    `keras.utils.load_img` does), so transparent pixels show the colour stored
    under them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file {str(path)!r}.")
    try:
        with PIL.Image.open(path) as image:
            image.load()  # decode here, so that a truncated file fails inside the `try`
            if image.mode.startswith("I"):  # "I;16", "I;16B", "I": 16-bit pixels held as integers
                image = PIL.Image.fromarray((np.asarray(image).astype("uint32") >> 8).astype("uint8"))
            image = image.convert("L" if color_mode == "grayscale" else "RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), PIL.Image.BILINEAR)
            pixels = np.asarray(image, dtype="uint8")
    except (OSError, SyntaxError, ValueError) as error:  # not an image, truncated, broken chunks
        raise DataError(f"Cannot read the image {path} ({error}).") from error
    return pixels[..., None] if pixels.ndim == 2 else pixels


def image_files(folder):
    """The image files under `folder` (any depth), sorted; names starting with "." are skipped."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_FILE_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def read_image_folder(directory, image_size=None, color_mode=None, class_names=None):
    """`LabeledImages` of `directory/<class>/<image>` (the layout `keras.utils.image_dataset_from_directory` reads).

    Args:
        image_size: `(H, W)` every image is resized to; `None` keeps their
            size, which must then be one size for all.
        color_mode: "grayscale" or "rgb"; `None`: grayscale when every image
            has equal red, green and blue, else RGB.
        class_names: the classes, in label order (e.g. the training folder's
            when this is a test folder, which may lack some); `None`: the
            subfolders, sorted.

    The images are held in memory as uint8, so the folder must fit there.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataError(f"No image folder {str(directory)!r}; expected {IMAGE_FOLDER_LAYOUT}.")
    subfolders = sorted(path.name for path in directory.iterdir() if path.is_dir() and not path.name.startswith("."))
    class_names = subfolders if class_names is None else list(class_names)
    unknown = sorted(set(subfolders) - set(class_names))
    if unknown:
        raise DataError(f"{directory}: the classes {unknown} are not among the training classes {class_names}.")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        if name not in subfolders:
            continue
        files = image_files(directory / name)
        if not files:
            raise DataError(f"{directory / name} holds no images; expected {IMAGE_FOLDER_LAYOUT}.")
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise DataError(f"{directory} holds no class subfolders; expected {IMAGE_FOLDER_LAYOUT}.")

    images = [load_image_file(path, color_mode or "rgb", image_size) for path in paths]
    sizes = [image.shape[:2] for image in images]
    odd = next((i for i, shape in enumerate(sizes) if shape != sizes[0]), None)
    if odd is not None:
        raise DataError(
            f"{directory}: the images differ in size: {paths[0]} is {sizes[0]} and {paths[odd]} is {sizes[odd]} "
            "(height, width); give image_size to resize them all to one size."
        )
    images = np.stack(images)
    if color_mode is None and np.all(images == images[..., :1]):
        images = images[..., :1]
    return LabeledImages(images, np.asarray(labels, "int32"), class_names)


def read_image_folder_like(directory, image_shape, class_names, image_size=None):
    """A test folder read to match training images of `image_shape` `(H, W, C)` and their `class_names`:
    in their colour mode, and their size (resized to `image_size` when given, else it must be theirs)."""
    images = read_image_folder(directory, image_size, color_mode_of(image_shape), class_names)
    if images.images.shape[1:] != tuple(image_shape):
        raise DataError(
            f"The images in {directory} are {images.images.shape[1:3]} but the training images are "
            f"{tuple(image_shape[:2])} (height, width); give image_size to resize both to one size."
        )
    return images


def read_image_folders(train_dir, test_dir, image_size=None, color_mode=None):
    """`{"train", "test"}` as `LabeledImages` from two folders laid out as `read_image_folder` reads;
    the classes (at least two), colour mode and size are the training folder's."""
    train = read_image_folder(train_dir, image_size, color_mode)
    if len(train.class_names) < 2:
        raise DataError(
            f"{train_dir} holds one class subfolder, {train.class_names}; a classifier needs at least two. "
            f"Expected {IMAGE_FOLDER_LAYOUT}."
        )
    return {"train": train, "test": read_image_folder_like(test_dir, train.images.shape[1:], train.class_names, image_size)}
