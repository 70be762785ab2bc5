"""Sentence-level validation splits of phrase-level data, against brute-force string containment."""

import numpy as np
import pytest

from recipes.data import phrases


def inside(phrase, sentence):
    return f" {phrase} " in f" {sentence} "


def treebank_like(rng, sentences=40):
    """Random sentences plus random word runs of them (some shared between sentences), shuffled."""
    vocabulary = [f"w{i}" for i in range(30)]
    shared = "the film"
    texts = set()
    for _ in range(sentences):
        words = list(rng.choice(vocabulary, size=int(rng.integers(4, 14))))
        if rng.random() < 0.5:
            words[1:1] = shared.split()
        texts.add(" ".join(words))
        for _ in range(int(rng.integers(0, 6))):
            start = int(rng.integers(0, len(words)))
            texts.add(" ".join(words[start : int(rng.integers(start + 1, len(words) + 1))]))
    texts.add(shared)
    return list(rng.permutation(sorted(texts)))


def test_sentences_are_the_examples_no_other_contains_and_hold_all_their_phrases(rng):
    texts = treebank_like(rng)
    sentences = phrases.phrases_of_sentences(texts)
    expected = {i for i, text in enumerate(texts) if not any(j != i and inside(text, other) for j, other in enumerate(texts))}
    assert set(sentences) == expected
    for root, inner in sentences.items():
        assert inner == {j for j, text in enumerate(texts) if j != root and inside(text, texts[root])}


def test_a_repeated_text_is_one_sentence():
    sentences = phrases.phrases_of_sentences(["a b c", "b c", "a b c"])
    assert len(sentences) == 1
    ((root, inner),) = sentences.items()
    assert inner == {0, 1, 2} - {root}


@pytest.mark.parametrize("fraction", [0.1, 0.3])
def test_held_out_sentences_and_their_own_phrases_are_not_trained_on(rng, fraction):
    texts = treebank_like(rng)
    seed = int(rng.integers(1 << 30))
    train, validation = phrases.split_off_sentences(texts, fraction, seed)
    sentences = phrases.phrases_of_sentences(texts)
    trained, held_out = set(train), set(validation)
    assert held_out <= set(sentences)
    assert len(validation) == max(1, round(fraction * len(sentences)))
    training_sentences = [texts[i] for i in sentences if i not in held_out]
    for i, text in enumerate(texts):
        seen = any(inside(text, sentence) for sentence in training_sentences)
        assert (i in trained) == seen, f"{text!r} trained on: {i in trained}, in a training sentence: {seen}"
    assert len(trained) == len(train) and not trained & held_out
    again = phrases.split_off_sentences(texts, fraction, seed)
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(validation, again[1])


def test_without_phrases_it_is_a_random_split_of_the_examples(rng):
    texts = [f"sentence {i} alone" for i in range(200)]
    train, validation = phrases.split_off_sentences(texts, 0.25, int(rng.integers(1 << 30)))
    assert len(validation) == 50
    assert sorted([*train, *validation]) == list(range(200))
    assert not np.array_equal(np.sort(validation), np.arange(150, 200))  # not the file's tail
