"""Where the recipes' examples come from: dataset readers, tokens, SST-2's phrases, augmentation.

Each reader takes `data_dir` laid out like `shared/datasets` (its README).
`data_dir` defaults to the environment variable `ZOO_DATA_DIR`. When neither is
set and the dataset has a canonical download, it is fetched with Keras (and
the reader says so); a failed download raises `DataError` saying how to work
offline. A missing or malformed file raises `DataError` naming the file, the
line and the expected layout.

    sources.py   the data directory, downloads, `DataError`, validation splits
    texts.py     labeled text tables, SST-2
    pairs.py     sentence pairs: Multi30k, Anki spa-eng, your own TSV
    images.py    IDX files (Fashion-MNIST, MNIST), CIFAR-10, folders of images
    series.py    time series: the UCR/UEA archives through aeon, your own .ts/CSV/TSV files
    labels.py    class names from training labels, labels as class indices
"""

from recipes.data.images import (
    COLOR_MODES, IMAGE_DATASETS, STORED_IMAGE_DATASETS, LabeledImages, color_mode_of, load_image_file, read_idx,
    read_image_dataset, read_image_folder, read_image_folder_like, read_image_folders,
)
from recipes.data.pairs import (
    PAIR_LANGUAGES, SentencePairs, parse_direction, read_lines_of, read_multi30k, read_parallel_files,
    read_sentence_pair_table, read_spa_eng, split_lines,
)
from recipes.data.series import (
    BUNDLED as BUNDLED_SERIES_DATASETS, LabeledSeries, read_series_dataset, read_series_file, read_series_files,
    series_lengths,
)
from recipes.data.sources import DATA_DIR_VARIABLE, DataError, absolute_paths, resolve_data_dir, split_off_validation
from recipes.data.texts import LabeledTexts, read_labeled_table, read_sst2

__all__ = [
    "BUNDLED_SERIES_DATASETS", "COLOR_MODES", "DATA_DIR_VARIABLE", "IMAGE_DATASETS", "PAIR_LANGUAGES", "STORED_IMAGE_DATASETS", "DataError",
    "LabeledImages", "LabeledSeries", "LabeledTexts", "SentencePairs", "absolute_paths", "color_mode_of", "load_image_file",
    "parse_direction", "read_idx", "read_image_dataset", "read_image_folder", "read_image_folder_like",
    "read_image_folders", "read_labeled_table", "read_lines_of", "read_multi30k", "read_parallel_files",
    "read_sentence_pair_table", "read_series_dataset", "read_series_file", "read_series_files", "read_sst2",
    "read_spa_eng", "resolve_data_dir", "series_lengths", "split_lines", "split_off_validation",
]
