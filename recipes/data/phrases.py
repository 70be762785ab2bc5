"""Sentences and the phrases inside them, for phrase-level training sets such as SST-2's.

GLUE's SST-2 training split holds 67,349 examples: 6,886 sentences of the
Stanford Sentiment Treebank and their labeled constituents (Socher et al.,
2013, Recursive Deep Models for Semantic Compositionality Over a Sentiment
Treebank). A validation split drawn from these examples at random is mostly
short phrases whose sentence, and most of whose sub-phrases, stay in training:
it measures recall, not generalization (a BiLSTM scores ~93% on it against
~82% on GLUE dev's unseen sentences, and it prefers whichever epoch memorized
most). `split_off_sentences` holds out whole sentences instead, and takes the
phrases that occur only inside them out of training, so validation looks like
the evaluation set: unseen sentences.

A phrase is inside a sentence when its words are a contiguous run of the
sentence's words (texts are compared as whitespace-separated words).
"""

import collections
import functools

import numpy as np


def phrases_of_sentences(texts):
    """`{sentence: phrases}`: each example that no other example contains, with the
    indices of the other examples whose words are a contiguous run of its words.

    Examples are visited from the longest; one found inside an earlier example is
    not a sentence, and its own phrases are phrases of that sentence too, so only
    sentences have their word runs enumerated (`O(sum n^2)` dictionary lookups
    over the sentences' lengths `n`). A text repeated verbatim is one sentence.
    """
    words = [tuple(text.split()) for text in texts]
    examples_of = collections.defaultdict(list)
    for index, run in enumerate(words):
        examples_of[run].append(index)
    inside_another = np.zeros(len(texts), bool)
    sentences = {}
    for index in sorted(range(len(texts)), key=lambda i: -len(words[i])):
        if inside_another[index]:
            continue
        sentence = words[index]
        phrases = {
            other
            for start in range(len(sentence))
            for stop in range(start + 1, len(sentence) + 1)
            for other in examples_of.get(sentence[start:stop], ())
            if other != index
        }
        inside_another[list(phrases)] = True
        sentences[index] = phrases
    return sentences


def split_off_sentences(texts, fraction, seed):
    """`(train_indices, validation_indices)` that keep held-out sentences unseen.

    Validation is a fixed-seed `max(1, round(fraction * sentences))` of the
    sentences (`phrases_of_sentences`). Training is every other example except
    the phrases found only inside validation sentences; a phrase that some
    training sentence also contains (a common word, "the film") stays, as it
    would for any unseen test sentence. Without phrases (every example its own
    sentence) this is a plain random split of the examples. Both index arrays are
    in a fixed-seed random order. The sentences of the last texts split are kept
    (seconds for SST-2's examples): every run on the same data splits them again.
    """
    sentences = _phrases_of_the_last_texts(tuple(texts))
    rng = np.random.default_rng(seed)
    roots = rng.permutation(sorted(sentences))
    validation_size = max(1, round(len(roots) * fraction))
    validation, training_sentences = roots[:validation_size], roots[validation_size:]
    seen_in_training = set().union(*(sentences[root] for root in training_sentences))
    held_out = set(validation.tolist()).union(*(sentences[root] - seen_in_training for root in validation))
    train = rng.permutation([index for index in range(len(texts)) if index not in held_out])
    return train, validation


@functools.lru_cache(maxsize=1)
def _phrases_of_the_last_texts(texts):
    return phrases_of_sentences(texts)
