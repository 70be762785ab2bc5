"""Labeled time series: the UCR/UEA archives through `aeon`, and your own `.ts`, CSV and TSV files.

A set of series is a float32 array `(N, T, C)`: N series of C channels, each padded after its last step with NaN to
the longest length T, so series of different lengths (JapaneseVowels, PickupGestureWiimoteZ) share one array and
`series_lengths` recovers each length. A NaN before a series' last real step (a missing value inside it) is
refused: padding is the only gap a series may have.

Datasets by name (`read_series_dataset`), each with the archive's official train/test split, from the first place
that has it:

1. the data directory (`data_dir` or `$ZOO_DATA_DIR`): `ucr/<Name>/<Name>_TRAIN.ts` and `_TEST.ts`;
2. the datasets `aeon`'s wheel bundles (`BUNDLED`), offline;
3. any other of the 128 UCR and 30 UEA names, downloaded by aeon from the archive's Zenodo records into
   Keras' cache, `$KERAS_HOME/datasets/ucr` (by default `~/.keras/datasets/ucr`; once; an error says how to do
   without the network).

Your own files (`read_series_files`): aeon's `.ts` format, or tables in the UCR archive's own layout, one series a
line, its label first, then its values, separated by commas (`.csv`) or tabs (`.tsv`), lines of different lengths
allowed (one channel).

Papers: Dau et al., "The UCR Time Series Archive", IEEE/CAA J. Autom. Sinica 2019; Bagnall et al., "The UEA
multivariate time series classification archive, 2018", arXiv:1811.00075.
"""

import csv
import dataclasses
import difflib
import os
from pathlib import Path

import numpy as np

from recipes.data.labels import class_names_of, label_ids
from recipes.data.sources import DataError, download, offline_copy, resolve_data_dir

# The classification datasets aeon 1.6's wheel holds (aeon/datasets/data), readable without a network.
BUNDLED = (
    "ACSF1", "ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand", "JapaneseVowels", "OSULeaf",
    "PickupGestureWiimoteZ",
)
ARCHIVE_LAYOUT = "ucr/<Name>/<Name>_TRAIN.ts and ucr/<Name>/<Name>_TEST.ts (aeon's .ts format)"
TS_LAYOUT = (
    "aeon's .ts format: header lines (@problemName, @univariate or @dimensions, @classLabel true <labels>, @data), "
    "then one series a line, its channels separated by ':', its values by ',', its label last"
)
TABLE_LAYOUT = (
    "one series a line, its label first, then its values, separated by commas (.csv) or tabs (.tsv); no header; "
    "lines may differ in length"
)
VALUES_LAYOUT = "one series a line, its values only, separated by commas (.csv) or tabs (.tsv); no header"
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t"}


@dataclasses.dataclass
class LabeledSeries:
    """`values` `(N, T, C)` float32 (NaN after each series' end) and integer `labels` `(N,)`; `class_names[label]`
    names a label."""

    values: np.ndarray
    labels: np.ndarray
    class_names: list

    def __len__(self):
        return len(self.labels)

    def take(self, indices):
        return LabeledSeries(self.values[indices], self.labels[indices], self.class_names)


def series_lengths(values):
    """`(N,)`: the steps of each series of `values` `(N, T, C)` before its NaN padding."""
    real = np.isfinite(values).all(axis=-1)
    return real.sum(axis=1)


def padded(series, source):
    """One `(N, T, C)` float32 array of `series`, a sequence of `(C, T_i)` arrays, each padded with NaN to the longest
    `T_i`. `source` names where they came from, for errors: a series with a gap (a NaN before its last value) or
    with another number of channels than the first is refused."""
    channels = {np.shape(one)[0] for one in series}
    if len(channels) > 1:
        raise DataError(f"{source}: series have {sorted(channels)} channels; every series of a set must have the same number.")
    longest = max(np.shape(one)[1] for one in series)
    values = np.full((len(series), longest, channels.pop()), np.nan, "float32")
    for index, one in enumerate(series):
        steps = np.asarray(one, "float32").T
        real = np.isfinite(steps).all(axis=-1)
        length = int(real.sum())
        if length == 0:
            raise DataError(f"{source}: series {index} has no values.")
        if not real[:length].all():
            raise DataError(
                f"{source}: series {index} has a missing value (NaN) at step {int(np.argmin(real))} of {len(real)}; "
                "only the end of a series may be left out. Fill the gap (interpolate it) first."
            )
        values[index, :length] = steps[:length]
    return values


def labeled(series, labels, class_names, source):
    """`LabeledSeries` of `series` `(C, T_i)` with string `labels` in `class_names`; a label outside them is refused."""
    return LabeledSeries(padded(series, source), label_ids(labels, class_names, source), class_names)


def labeled_splits(train, test, sources):
    """`{"train", "test"}` `LabeledSeries` of `(series, labels)` pairs; the classes are the training labels'."""
    class_names = class_names_of(train[1], f"{sources[0]}: the labels")
    splits = {"train": labeled(*train, class_names, sources[0]), "test": labeled(*test, class_names, sources[1])}
    channels = [split.values.shape[-1] for split in splits.values()]
    if channels[0] != channels[1]:
        raise DataError(f"{sources[1]} has series of {channels[1]} channels and {sources[0]} of {channels[0]} channels; they must match.")
    return splits


# ---------------------------------------------------------------- the UCR/UEA archives


def archive_names():
    """The UCR and UEA classification datasets aeon knows by name."""
    from aeon.datasets import tsc_datasets

    return sorted(set(tsc_datasets.univariate) | set(tsc_datasets.multivariate))


def check_dataset_name(name):
    """Raises `DataError` unless `name` is a dataset of the archives; the message lists the bundled ones and the
    closest names."""
    names = archive_names()
    if name not in names:
        close = difflib.get_close_matches(str(name), names, n=3)
        raise DataError(
            f"Unknown time-series dataset {name!r}{f' (did you mean {close}?)' if close else ''}. Bundled with aeon, "
            f"offline: {list(BUNDLED)}; or any of the {len(names)} UCR/UEA names (aeon.datasets.tsc_datasets), "
            "downloaded once; or your own train_file and test_file."
        )


def read_series_dataset(name, data_dir=None):
    """`{"train", "test"}` `LabeledSeries` of the archive's dataset `name`, from the data directory, aeon's
    wheel or a download (the module's docstring), in the official split."""
    from aeon.datasets import load_classification

    check_dataset_name(name)
    data_dir = resolve_data_dir(data_dir)
    local = None if data_dir is None else data_dir / "ucr"
    if local is not None and (local / name).is_dir():
        extract_path, source = local, local / name
    elif name in BUNDLED:
        extract_path, source = None, f"aeon's bundled {name}"
    else:
        extract_path = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "ucr"
        source = extract_path / name

    def load():
        path = None if extract_path is None else str(extract_path)
        return [load_classification(name, split=split, extract_path=path) for split in ("train", "test")]

    try:
        if extract_path is None or extract_path == local:
            train, test = load()
        else:
            train, test = download(name, "the UCR/UEA archive on Zenodo", load, offline_copy(ARCHIVE_LAYOUT))
    except DataError:
        raise
    except (OSError, ValueError, IndexError) as error:
        raise DataError(f"Cannot read {name} from {source} ({error}); expected {ARCHIVE_LAYOUT}.") from error
    sources = (f"{source} (train)", f"{source} (test)")
    return labeled_splits(checked_ts(*train, sources[0]), checked_ts(*test, sources[1]), sources)


# ---------------------------------------------------------------- your own files


def read_ts_file(path, labeled=True):
    """`(series, labels)` of an aeon `.ts` file: `(C, T_i)` arrays and their labels as strings (`labeled=False`: any
    labels are ignored, None)."""
    from aeon.datasets import load_from_ts_file

    try:
        series, labels = load_from_ts_file(str(path))
    except (OSError, ValueError, IndexError, TypeError) as error:
        raise DataError(f"Cannot read {path} ({error}); expected {TS_LAYOUT}.") from error
    return checked_ts(series, labels if labeled else None, path)


def checked_ts(series, labels, source):
    """`(series, labels)` as aeon read them from a `.ts` file, as a list and strings (`labels` None: not wanted);
    aeon reads some malformed lines as series without values, which are refused here."""
    if labels is not None:
        if len(labels) != len(series):
            raise DataError(f"{source} has no class labels (@classLabel false); expected {TS_LAYOUT}.")
        labels = [str(label) for label in labels]
    empty = [index for index, one in enumerate(series) if 0 in np.shape(one)]
    if empty:
        raise DataError(f"{source}: series {empty[0]} has no values; expected {TS_LAYOUT}.")
    return list(series), labels


def read_series_table(path, labeled=True):
    """`(series, labels)` of a CSV or TSV file, one series a line: `(1, T_i)` arrays and, with `labeled`, the labels
    that start the lines (`TABLE_LAYOUT`, the UCR archive's layout), as strings; without, lines of values only
    (labels None). Empty trailing cells are padding."""
    layout = TABLE_LAYOUT if labeled else VALUES_LAYOUT
    series, labels = [], []
    with open(path, newline="", encoding="utf-8") as file:
        for number, row in enumerate(csv.reader(file, delimiter=TABLE_DELIMITERS[path.suffix.lower()]), start=1):
            while row and not row[-1].strip():
                row.pop()
            if not row:
                continue
            label, cells = (row[0].strip(), row[1:]) if labeled else (None, row)
            if not cells:
                raise DataError(f"{path}, line {number}: a label and no values; expected {layout}.")
            try:
                values = np.array([float(cell) for cell in cells], "float32")
            except ValueError as error:
                raise DataError(f"{path}, line {number}: {error}; expected {layout}.") from error
            labels.append(label)
            series.append(values[None])
    if not series:
        raise DataError(f"{path} holds no series; expected {layout}.")
    return series, labels if labeled else None


def read_series_file(path, labeled=True):
    """`(series, labels)` of your own file: `.ts`, or a `.csv` / `.tsv` table; `labeled=False` reads series to
    classify (labels None: a table's lines are values only, a `.ts` file's labels are ignored)."""
    path = Path(path)
    tables = f".csv/.tsv table ({TABLE_LAYOUT if labeled else VALUES_LAYOUT})"
    if not path.is_file():
        raise DataError(f"Missing series file {str(path)!r}; expected a .ts file ({TS_LAYOUT}) or a {tables}.")
    if path.suffix.lower() == ".ts":
        return read_ts_file(path, labeled)
    if path.suffix.lower() in TABLE_DELIMITERS:
        return read_series_table(path, labeled)
    raise DataError(f"{path}: unknown series file type {path.suffix!r}; expected .ts ({TS_LAYOUT}) or a {tables}.")


def read_series_files(train_file, test_file):
    """`{"train", "test"}` `LabeledSeries` of your own two files; the classes are the training file's labels."""
    return labeled_splits(read_series_file(train_file), read_series_file(test_file), sources=(str(train_file), str(test_file)))
