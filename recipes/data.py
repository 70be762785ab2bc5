"""Dataset readers. Each takes `data_dir` laid out like `shared/datasets` (its README).

`data_dir` defaults to the environment variable `ZOO_DATA_DIR`. When neither is
set and the dataset has a canonical download, it is fetched with Keras (and
the reader says so); a failed download raises `DataError` saying how to work
offline. A missing or malformed file raises `DataError` naming the file, the
line and the expected layout.
"""

import csv
import dataclasses
import functools
import gzip
import os
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np
import PIL.Image

DATA_DIR_VARIABLE = "ZOO_DATA_DIR"

SST2_LAYOUT = (
    "sst2/train.tsv and sst2/dev.tsv: UTF-8, tab-separated, a header row 'sentence<TAB>label', "
    "then one sentence and its label (0 = negative, 1 = positive) per line"
)
SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"


class DataError(ValueError):
    """A dataset file is missing or does not have the expected layout."""


@dataclasses.dataclass
class LabeledTexts:
    """Texts with their labels (strings, as written in the file)."""

    texts: list
    labels: list

    def __len__(self):
        return len(self.texts)

    def take(self, indices):
        return LabeledTexts([self.texts[i] for i in indices], [self.labels[i] for i in indices])


def split_off_validation(size, fraction, seed):
    """`(train_indices, validation_indices)`: a fixed-seed shuffle of `range(size)`, the first
    `max(1, round(size * fraction))` indices held out for validation."""
    order = np.random.default_rng(seed).permutation(size)
    validation_size = max(1, round(size * fraction))
    return order[validation_size:], order[:validation_size]


def absolute_paths(*paths):
    """The paths as absolute strings (`None` stays `None`), so that a run that stores them can be
    evaluated from any working directory."""
    return [None if path is None else str(Path(str(path)).expanduser().resolve()) for path in paths]


def resolve_data_dir(data_dir=None):
    """`data_dir`, else `$ZOO_DATA_DIR`, else `None` (use the canonical download)."""
    data_dir = data_dir or os.environ.get(DATA_DIR_VARIABLE)
    if data_dir is None:
        return None
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(
            f"Data directory {str(data_dir)!r} does not exist. Pass an existing directory "
            f"(--data-dir or ${DATA_DIR_VARIABLE}) laid out like shared/datasets, e.g. {SST2_LAYOUT}."
        )
    return data_dir


def download(dataset, source, fetch, offline):
    """`fetch()`, a Keras download of `dataset` from `source`, announced, and explained if it fails.

    Keras keeps downloads in its cache (`$KERAS_HOME/datasets`, by default
    `~/.keras/datasets`), so only the first run needs the network. When the
    network is out of reach Keras raises a bare `Exception` ("URL fetch failure
    on <url>: ..."), and a copy cut short fails to unpack; either becomes a
    `DataError` that also says how to do without the download (`offline`, a
    phrase such as "give a data directory holding ...").
    """
    print(f"{dataset}: downloading {source} into the Keras cache, unless it is there from an earlier run.")
    try:
        return fetch()
    except Exception as error:
        raise DataError(
            f"Could not download or unpack {dataset} from {source} ({error}). Connect to the network once "
            "(Keras caches the download in $KERAS_HOME/datasets, by default ~/.keras/datasets; delete a copy "
            f"there that was cut short), or {offline}."
        ) from error


def offline_copy(layout):
    """How to read a dataset without downloading it: the `offline` phrase of `download`."""
    return f"give a data directory (--data-dir or ${DATA_DIR_VARIABLE}) holding {layout}"


def read_labeled_table(path, text_column="sentence", label_column="label", delimiter=None, layout=None):
    """Reads a TSV/CSV file with a header row into `LabeledTexts`.

    Args:
        path: the file. The delimiter is a tab for `.tsv`, a comma otherwise,
            unless `delimiter` is given.
        text_column, label_column: header names of the two columns used.
        layout: description of the expected layout, for error messages.

    Raises:
        DataError: the file is missing, lacks a column, or has a row with the
            wrong number of fields or an empty text or label (the message names
            the file and line).
    """
    path = Path(path)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    layout = layout or (
        f"a header row naming the columns {text_column!r} and {label_column!r}, "
        f"then one example per line, fields separated by {delimiter!r}"
    )
    if not path.is_file():
        raise DataError(f"Missing data file {str(path)!r}; expected {layout}.")
    # TSV text is not quoted (GLUE's SST-2 sentences contain bare quotes); CSV is.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    try:
        texts, labels = _read_labeled_rows(path, delimiter, quoting, text_column, label_column, layout)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text ({error}); save it as UTF-8: {layout}.") from None
    if not texts:
        raise DataError(f"{path} has a header but no examples; expected {layout}.")
    return LabeledTexts(texts, labels)


def _read_labeled_rows(path, delimiter, quoting, text_column, label_column, layout):
    """The texts and labels of `read_labeled_table` (a UTF-8 byte order mark and blank lines are skipped)."""
    texts, labels = [], []
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file, delimiter=delimiter, quoting=quoting)
        try:
            header = next(reader, None)
            if header is None or text_column not in header or label_column not in header:
                raise DataError(
                    f"{path}, line 1: header {header!r} lacks the column {text_column!r} or {label_column!r}; "
                    f"expected {layout}."
                )
            text_index, label_index = header.index(text_column), header.index(label_column)
            for row in reader:
                line = reader.line_num
                if not "".join(row).strip():
                    continue  # a blank line, e.g. at the end
                if len(row) != len(header):
                    raise DataError(
                        f"{path}, line {line}: {len(row)} field(s) where the header has {len(header)}: "
                        f"{delimiter.join(row)[:80]!r}; expected {layout}."
                    )
                text, label = row[text_index].strip(), row[label_index].strip()
                if not text or not label:
                    raise DataError(f"{path}, line {line}: empty text or label; expected {layout}.")
                texts.append(text)
                labels.append(label)
        except csv.Error as error:  # e.g. a quote left open swallows the rest of the file into one field
            raise DataError(f"{path}, line {reader.line_num}: {error}; expected {layout}.") from None
    return texts, labels


def _sst2_dir(data_dir):
    data_dir = resolve_data_dir(data_dir)
    if data_dir is not None:
        return data_dir / "sst2"
    fetch = functools.partial(keras.utils.get_file, "SST-2.zip", SST2_URL, extract=True)
    archive = download("SST-2", SST2_URL, fetch, offline_copy(SST2_LAYOUT))
    return next(Path(archive).rglob("train.tsv")).parent


SST2_CLASSES = {"0": "negative", "1": "positive"}


def read_sst2(data_dir=None):
    """SST-2 (GLUE): `{"train": ..., "dev": ...}` as `LabeledTexts` labelled "negative"/"positive".

    GLUE's test labels are hidden, so `dev` (872 sentences) is the evaluation set.
    """
    directory = _sst2_dir(data_dir)
    splits = {}
    for split in ("train", "dev"):
        path = directory / f"{split}.tsv"
        data = read_labeled_table(path, layout=SST2_LAYOUT)
        unknown = sorted(set(data.labels) - set(SST2_CLASSES))
        if unknown:
            raise DataError(f"{path}: labels {unknown} are not SST-2 labels; expected {SST2_LAYOUT}.")
        splits[split] = LabeledTexts(data.texts, [SST2_CLASSES[label] for label in data.labels])
    return splits


@dataclasses.dataclass
class SentencePairs:
    """Aligned source and target sentences."""

    sources: list
    targets: list

    def __len__(self):
        return len(self.sources)

    def take(self, indices):
        return SentencePairs([self.sources[i] for i in indices], [self.targets[i] for i in indices])


def split_lines(text):
    """The lines of `text`, split at "\n" (or "\r\n") only.

    `str.splitlines` would also split at characters such as U+2028 or U+0085,
    which can occur inside a sentence and would shift every later line.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_lines_of(path, layout):
    """The lines of a UTF-8 text file (gzip when it ends in `.gz`; a byte order mark is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Missing data file {str(path)!r}; expected {layout}.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as file:
            return split_lines(file.read())
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise DataError(f"Cannot read {path} ({error}); expected {layout}.") from error


def read_parallel_files(source_path, target_path, layout):
    """`SentencePairs` from two line-aligned files; their line counts must agree."""
    sources, targets = read_lines_of(source_path, layout), read_lines_of(target_path, layout)
    if len(sources) != len(targets):
        raise DataError(
            f"{source_path} has {len(sources)} lines but {target_path} has {len(targets)}; "
            f"the files must be line-aligned: {layout}."
        )
    for number, (source, target) in enumerate(zip(sources, targets), start=1):
        if not source.strip() or not target.strip():
            raise DataError(f"{source_path} / {target_path}, line {number}: empty sentence; expected {layout}.")
    return SentencePairs(sources, targets)


# The languages of each stored sentence-pair corpus; either direction reads, the first into the second by default.
PAIR_LANGUAGES = {"multi30k": ("de", "en"), "spa-eng": ("en", "es")}


def parse_direction(direction, languages):
    """`"de-en"` -> `("de", "en")`, both among `languages`."""
    source, separator, target = str(direction).partition("-")
    allowed = [f"{a}-{b}" for a in languages for b in languages if a != b]
    if not separator or direction not in allowed:
        raise DataError(f"Unknown translation direction {direction!r}; choose one of {allowed}.")
    return source, target


MULTI30K_LAYOUT = (
    "multi30k/{train,val,test_2016_flickr}.{de,en}.gz: gzip, UTF-8, one raw sentence per line, "
    "line i of the .de file aligned with line i of the .en file"
)
MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
MULTI30K_SPLITS = {"train": "train", "validation": "val", "test": "test_2016_flickr"}


def _multi30k_file(data_dir, name):
    if data_dir is not None:
        return data_dir / "multi30k" / name
    url = MULTI30K_URL + name
    fetch = functools.partial(keras.utils.get_file, f"multi30k-{name}", url)
    return Path(download("Multi30k", url, fetch, offline_copy(MULTI30K_LAYOUT)))


def read_multi30k(data_dir=None, direction="de-en"):
    """Multi30k task 1 (Elliott et al., 2016): `{"train", "validation", "test"}` as `SentencePairs`.

    Test is `test_2016_flickr` (1000 pairs), the set published results use.
    """
    source, target = parse_direction(direction, PAIR_LANGUAGES["multi30k"])
    data_dir = resolve_data_dir(data_dir)
    return {
        split: read_parallel_files(
            _multi30k_file(data_dir, f"{stem}.{source}.gz"), _multi30k_file(data_dir, f"{stem}.{target}.gz"), MULTI30K_LAYOUT
        )
        for split, stem in MULTI30K_SPLITS.items()
    }


SENTENCE_PAIRS_LAYOUT = "UTF-8 text, one pair per line: 'first sentence<TAB>second sentence' (more columns are ignored)"


def read_sentence_pair_table(path, swap=False, layout=SENTENCE_PAIRS_LAYOUT, lines=None):
    """`SentencePairs` from a TSV of `first<TAB>second` lines (e.g. spa-eng's spa.txt); blank lines are skipped.

    Args:
        swap: translate from the second column into the first.
        lines: the file's lines when already read (e.g. from an archive).
    """
    lines = read_lines_of(path, layout) if lines is None else lines
    firsts, seconds = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue  # a blank line, e.g. at the end
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"{path}, line {number}: expected two non-empty tab-separated sentences, {layout}; got {line[:80]!r}.")
        firsts.append(fields[0].strip())
        seconds.append(fields[1].strip())
    if not firsts:
        raise DataError(f"{path} holds no sentence pairs; expected {layout}.")
    return SentencePairs(seconds, firsts) if swap else SentencePairs(firsts, seconds)


SPA_ENG_LAYOUT = "anki-spa-eng/spa-eng.zip holding spa-eng/spa.txt: UTF-8, 'english<TAB>spanish' per line"
SPA_ENG_URL = "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip"


SPA_ENG_SPLIT_SEED = 1337  # one split for every run, whatever its training seed


def read_spa_eng(data_dir=None, direction="en-es"):
    """Anki/Tatoeba Spanish-English: `{"train", "validation", "test"}`, 70/15/15 after a shuffle with `SPA_ENG_SPLIT_SEED`.

    Validation and test get `int(0.15 n)` pairs each, as in the keras.io
    English-to-Spanish example (83,276 / 17,844 / 17,844).
    """
    source, _ = parse_direction(direction, PAIR_LANGUAGES["spa-eng"])
    data_dir = resolve_data_dir(data_dir)
    if data_dir is None:
        fetch = functools.partial(keras.utils.get_file, "spa-eng.zip", SPA_ENG_URL)
        archive = Path(download("spa-eng", SPA_ENG_URL, fetch, offline_copy(SPA_ENG_LAYOUT)))
    else:
        archive = data_dir / "anki-spa-eng" / "spa-eng.zip"
    if not archive.is_file():
        raise DataError(f"Missing data file {str(archive)!r}; expected {SPA_ENG_LAYOUT}.")
    try:
        with zipfile.ZipFile(archive) as zipped:
            lines = split_lines(zipped.read("spa-eng/spa.txt").decode("utf-8-sig"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as error:
        raise DataError(f"Cannot read {archive} ({error}); expected {SPA_ENG_LAYOUT}.") from error
    pairs = read_sentence_pair_table(archive, swap=source == "es", layout=SPA_ENG_LAYOUT, lines=lines)
    order = np.random.default_rng(SPA_ENG_SPLIT_SEED).permutation(len(pairs))
    held_out = int(0.15 * len(pairs))
    return {
        "train": pairs.take(order[2 * held_out :]),
        "validation": pairs.take(order[:held_out]),
        "test": pairs.take(order[held_out : 2 * held_out]),
    }


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
