"""Dataset readers. Each takes `data_dir` laid out like `shared/datasets` (its README).

`data_dir` defaults to the environment variable `ZOO_DATA_DIR`. When neither is
set and the dataset has a canonical download, it is fetched with
`keras.utils.get_file` (and the reader says so). A missing or malformed file
raises `DataError` naming the file, the line and the expected layout.
"""

import csv
import dataclasses
import os
from pathlib import Path

import keras

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
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file, delimiter=delimiter, quoting=quoting)
        header = next(reader, None)
        if header is None or text_column not in header or label_column not in header:
            raise DataError(
                f"{path}, line 1: header {header!r} lacks the column {text_column!r} or {label_column!r}; "
                f"expected {layout}."
            )
        text_index, label_index = header.index(text_column), header.index(label_column)
        for row in reader:
            line = reader.line_num
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
    if not texts:
        raise DataError(f"{path} has a header but no examples; expected {layout}.")
    return LabeledTexts(texts, labels)


def _sst2_dir(data_dir):
    data_dir = resolve_data_dir(data_dir)
    if data_dir is not None:
        return data_dir / "sst2"
    print(
        f"SST-2: no data directory given (--data-dir or ${DATA_DIR_VARIABLE}); "
        f"downloading the GLUE copy from {SST2_URL} into the Keras cache."
    )
    archive = keras.utils.get_file("SST-2.zip", SST2_URL, extract=True)
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
