"""Benchmark: translation models trained from scratch on full Multi30k de->en, scored on test2016.

Multi30k task 1 (raw, cased): train 29,000 pairs, validation 1,014,
test_2016_flickr 1,000.

Writes `benchmarks/results/translation_<model>.json` (BLEU and chrF on
test_2016_flickr with greedy and beam decoding, epochs, wall time, training
target tokens/s, machine, command) per model. Not a test.

Reference points (bentrevett/pytorch-seq2seq, test2016, greedy): GRU with
attention 28.3 BLEU, Transformer of ~9M parameters 36.5 BLEU.

    python benchmarks/translation.py [--models NAME ...] [--set key=value ...]
"""

from common import run_benchmarks
from recipes.task import get_task


def figures(metrics):
    return {key: metrics[key] for key in (
        "direction", "test_bleu_greedy", "test_chrf_greedy", "test_bleu_beam", "test_chrf_beam", "beam_size",
        "best_validation_bleu", "train_tokens_per_second", "train_pairs",
    )}


if __name__ == "__main__":
    run_benchmarks(
        benchmark="translation",
        task=get_task("translation"),
        models=["transformer_small"],
        figures=figures,
        description=__doc__.splitlines()[0],
    )
