"""Sentence pairs for translation: Multi30k, Anki's spa-eng, and your own TSV of pairs."""

import dataclasses
import functools
import gzip
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np

from recipes.data.sources import DataError, download, offline_copy, resolve_data_dir

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
