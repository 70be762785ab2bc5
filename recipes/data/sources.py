"""Where datasets come from: the data directory (`ZOO_DATA_DIR`), Keras downloads, and the errors that
name the file and the expected layout."""

import os
from pathlib import Path

import numpy as np

DATA_DIR_VARIABLE = "ZOO_DATA_DIR"

# SST-2's layout, also the example of a data directory's layout in `resolve_data_dir`'s error.
SST2_LAYOUT = (
    "sst2/train.tsv and sst2/dev.tsv: UTF-8, tab-separated, a header row 'sentence<TAB>label', "
    "then one sentence and its label (0 = negative, 1 = positive) per line"
)


class DataError(ValueError):
    """A dataset file is missing or does not have the expected layout."""


def split_off_validation(size, fraction, seed):
    """`(train_indices, validation_indices)`: a fixed-seed shuffle of `range(size)`, the first
    `max(1, round(size * fraction))` indices held out for validation; none for a `fraction` of 0."""
    order = np.random.default_rng(seed).permutation(size)
    validation_size = max(1, round(size * fraction)) if fraction else 0
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
