"""Time-series data (recipes/data/series.py): the real UCR/UEA files aeon bundles against the archives' published
summaries (series, lengths, classes, channels of the official splits), padding of variable lengths, your own files,
and the errors."""

import shutil

import numpy as np
import pytest

from error_messages import raises_mentioning
from recipes.data import DataError, series

pytestmark = pytest.mark.backend_independent

# Name: (train series, test series, shortest and longest length, classes, channels), from the UCR archive's
# DataSummary (Dau et al. 2019) and the UEA archive's table (Bagnall et al. 2018).
PUBLISHED = {
    "ACSF1": (100, 100, 1460, 1460, 10, 1),
    "ArrowHead": (36, 175, 251, 251, 3, 1),
    "BasicMotions": (40, 40, 100, 100, 4, 6),
    "GunPoint": (50, 150, 150, 150, 2, 1),
    "ItalyPowerDemand": (67, 1029, 24, 24, 2, 1),
    "JapaneseVowels": (270, 370, 7, 29, 9, 12),
    "OSULeaf": (200, 242, 427, 427, 6, 1),
    "PickupGestureWiimoteZ": (50, 50, 29, 361, 10, 1),
}


def test_every_bundled_dataset_is_listed_with_its_published_figures():
    assert sorted(PUBLISHED) == sorted(series.BUNDLED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_bundled_datasets_have_the_archives_official_splits(name):
    train_size, test_size, shortest, longest, classes, channels = PUBLISHED[name]
    splits = series.read_series_dataset(name)
    train, test = splits["train"], splits["test"]
    assert (len(train), len(test)) == (train_size, test_size)
    lengths = np.concatenate([series.series_lengths(train.values), series.series_lengths(test.values)])
    assert (lengths.min(), lengths.max()) == (shortest, longest)
    assert len(train.class_names) == classes and set(np.unique(train.labels)) == set(range(classes))
    assert train.values.shape[-1] == test.values.shape[-1] == channels
    assert train.values.dtype == np.float32


def test_variable_lengths_are_padded_with_nan_after_each_series():
    """JapaneseVowels' series as aeon reads them, `(12, T_i)` each, are the padded array's real steps."""
    from aeon.datasets import load_classification

    originals, labels = load_classification("JapaneseVowels", split="train")
    train = series.read_series_dataset("JapaneseVowels")["train"]
    lengths = series.series_lengths(train.values)
    np.testing.assert_array_equal(lengths, [one.shape[1] for one in originals])
    for values, length, original in zip(train.values, lengths, originals):
        np.testing.assert_allclose(values[:length], original.T, rtol=1e-6)
        assert np.isnan(values[length:]).all()
    np.testing.assert_array_equal(np.array(train.class_names)[train.labels], labels)


def test_the_data_directory_comes_before_the_bundled_copy(tmp_path):
    """`ucr/<Name>/<Name>_TRAIN.ts` in the data directory is read instead of aeon's copy: here a cut-down GunPoint."""
    import aeon.datasets

    bundled = aeon.datasets.__path__[0] + "/data/GunPoint"
    local = tmp_path / "ucr" / "GunPoint"
    local.mkdir(parents=True)
    for split in ("TRAIN", "TEST"):
        lines = open(f"{bundled}/GunPoint_{split}.ts").read().splitlines()
        data = lines.index("@data") + 1
        (local / f"GunPoint_{split}.ts").write_text("\n".join(lines[: data + 7]) + "\n")
    splits = series.read_series_dataset("GunPoint", data_dir=tmp_path)
    assert len(splits["train"]) == len(splits["test"]) == 7


def write(path, text):
    path.write_text(text)
    return path


def test_your_own_tables_in_the_ucr_layout(tmp_path):
    train = write(tmp_path / "train.csv", "9,1,2,3\n10,4,5\n\n9,6,7,8,9,\n")
    test = write(tmp_path / "test.tsv", "10\t0.5\t1.5\n")
    splits = series.read_series_files(train, test)
    assert splits["train"].class_names == ["9", "10"]  # by value: 10 after 9
    np.testing.assert_array_equal(splits["train"].labels, [0, 1, 0])
    expected = np.array([[1, 2, 3, np.nan], [4, 5, np.nan, np.nan], [6, 7, 8, 9]], "float32")[..., None]
    np.testing.assert_array_equal(splits["train"].values, expected)
    np.testing.assert_array_equal(splits["test"].values, [[[0.5], [1.5]]])
    np.testing.assert_array_equal(splits["test"].labels, [1])


TS_HEADER = "@problemName toy\n@timeStamps false\n@missing false\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true walk run\n@data\n"


def test_your_own_ts_files_with_channels_and_lengths(tmp_path):
    train = write(tmp_path / "train.ts", TS_HEADER + "1,2,3:4,5,6:walk\n7,8:9,10:run\n")
    splits = series.read_series_files(train, train)
    assert splits["train"].class_names == ["run", "walk"]
    np.testing.assert_array_equal(splits["train"].labels, [1, 0])
    expected = np.array([[[1, 4], [2, 5], [3, 6]], [[7, 9], [8, 10], [np.nan, np.nan]]], "float32")
    np.testing.assert_array_equal(splits["train"].values, expected)


@pytest.mark.parametrize("files, mentioned", [
    ({"train.csv": "1,2,x\n"}, ("train.csv, line 1", "could not convert", "label first")),
    ({"train.csv": "1,2\n2\n"}, ("train.csv, line 2", "a label and no values")),
    ({"train.csv": "\n\n"}, ("holds no series",)),
    ({"train.csv": "1,2,nan,4\n2,1,2,3\n"}, ("series 0 has a missing value (NaN) at step 1", "Fill the gap")),
    ({"train.txt": "1,2\n"}, ("unknown series file type '.txt'", ".ts", ".csv/.tsv table")),
    ({"train.ts": "@problemName x\n@data\n1,2,oops\n"}, ("train.ts: series 0 has no values", "aeon's .ts format")),
    ({"train.csv": "1,2,3\n3,4,5\n", "test.csv": "2,4,5\n"}, ("labels ['2'] are not among the training labels ['1', '3']",)),
    ({"train.csv": "1,2,3\n1,4,5\n"}, ("train.csv: the labels hold 1 class(es), ['1']", "at least two")),
])
def test_malformed_files_name_the_file_and_the_layout(files, mentioned, tmp_path):
    paths = {name: write(tmp_path / name, text) for name, text in files.items()}
    train = next(iter(paths.values()))
    test = paths.get("test.csv", train)
    with raises_mentioning(*mentioned, error=DataError):
        series.read_series_files(train, test)


def test_train_and_test_series_must_have_the_same_channels(tmp_path):
    train = write(tmp_path / "train.ts", TS_HEADER + "1,2:3,4:walk\n5,6:7,8:run\n")
    test = write(tmp_path / "test.csv", "walk,1,2\n")
    with raises_mentioning("has series of 1 channels", "of 2 channels", error=DataError):
        series.read_series_files(train, test)


def test_a_missing_file_names_it(tmp_path):
    with raises_mentioning("Missing series file", "nothing.csv", ".ts file", error=DataError):
        series.read_series_files(tmp_path / "nothing.csv", tmp_path / "nothing.csv")


def test_an_unknown_dataset_lists_the_bundled_ones_and_the_closest_names():
    with raises_mentioning("Unknown time-series dataset 'Gunpoint'", "'GunPoint'", "'JapaneseVowels'", "train_file", error=DataError):
        series.read_series_dataset("Gunpoint")


def test_a_dataset_that_cannot_be_downloaded_says_how_to_work_offline(monkeypatch, tmp_path):
    import aeon.datasets

    def unreachable(name, split=None, extract_path=None):
        raise ValueError("Failed to retrieve Zenodo metadata: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(aeon.datasets, "load_classification", unreachable)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with raises_mentioning("Could not download", "Coffee", "ucr/<Name>/<Name>_TRAIN.ts", error=DataError):
        series.read_series_dataset("Coffee", data_dir=tmp_path)


def test_a_corrupt_dataset_in_the_data_directory_names_it(tmp_path):
    import aeon.datasets

    local = tmp_path / "ucr" / "GunPoint"
    local.mkdir(parents=True)
    shutil.copy(aeon.datasets.__path__[0] + "/data/GunPoint/GunPoint_TRAIN.ts", local)
    (local / "GunPoint_TEST.ts").write_text("@problemName GunPoint\n@data\n1,2,oops\n")
    with raises_mentioning("GunPoint", str(local), "aeon's .ts format", error=DataError):
        series.read_series_dataset("GunPoint", data_dir=tmp_path)
