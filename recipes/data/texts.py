"""Labeled text tables: your own TSV/CSV files, and SST-2 (GLUE)."""

import csv
import dataclasses
import functools
from pathlib import Path

import keras

from recipes.data.sources import DataError, SST2_LAYOUT, download, offline_copy, resolve_data_dir

SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"


@dataclasses.dataclass
class LabeledTexts:
    """Texts with their labels (strings, as written in the file), and where each was read (`FILE, line N`)."""

    texts: list
    labels: list
    lines: list = dataclasses.field(default=None, compare=False)

    def __len__(self):
        return len(self.texts)

    def take(self, indices):
        lines = None if self.lines is None else [self.lines[i] for i in indices]
        return LabeledTexts([self.texts[i] for i in indices], [self.labels[i] for i in indices], lines)

    def origin(self, index):
        """Where text `index` was read, or its number."""
        return self.lines[index] if self.lines is not None else f"text {index + 1} of {len(self)}"



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
        texts, labels, lines = _read_labeled_rows(path, delimiter, quoting, text_column, label_column, layout)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text ({error}); save it as UTF-8: {layout}.") from None
    if not texts:
        raise DataError(f"{path} has a header but no examples; expected {layout}.")
    return LabeledTexts(texts, labels, lines)


def _read_labeled_rows(path, delimiter, quoting, text_column, label_column, layout):
    """The texts, labels and lines of `read_labeled_table` (a UTF-8 byte order mark and blank lines are skipped)."""
    texts, labels, lines = [], [], []
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
                lines.append(f"{path}, line {line}")
        except csv.Error as error:  # e.g. a quote left open swallows the rest of the file into one field
            raise DataError(f"{path}, line {reader.line_num}: {error}; expected {layout}.") from None
    return texts, labels, lines


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
        splits[split] = LabeledTexts(data.texts, [SST2_CLASSES[label] for label in data.labels], data.lines)
    return splits
