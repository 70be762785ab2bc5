"""The ListOps generator (recipes/data/listops.py) against the task's definition (Nangia and Bowman 2018; the Long
Range Arena's generator, Tay et al. 2020): values by an evaluator written here, and the trees' published limits."""

import numpy as np
import pytest

from error_messages import raises_mentioning
from recipes.data import listops
from recipes.data.texts import read_labeled_table

pytestmark = pytest.mark.backend_independent


def value_of(tokens, start=0):
    """`(value, next position)`: recursive descent, an operator's arguments up to its `]` (NumPy's median, truncated,
    as the Long Range Arena computes it)."""
    token = tokens[start]
    if token.isdigit():
        return int(token), start + 1
    arguments, position = [], start + 1
    while tokens[position] != "]":
        value, position = value_of(tokens, position)
        arguments.append(value)
    operations = {"[MAX": max, "[MIN": min, "[MED": lambda a: int(np.median(a)), "[SM": lambda a: int(np.sum(a)) % 10}
    return operations[token](arguments), position + 1


def shape_of(tokens):
    """The deepest level of an operator (the root is level 1) and every operator's number of arguments."""
    depth, deepest, counts, open_counts = 0, 0, [], []
    for token in tokens:
        if token in listops.OPERATORS:
            if open_counts:
                open_counts[-1] += 1
            depth += 1
            deepest = max(deepest, depth)
            open_counts.append(0)
        elif token == "]":
            depth -= 1
            counts.append(open_counts.pop())
        elif open_counts:
            open_counts[-1] += 1
    return deepest, counts


def test_values_are_those_of_the_definition(rng):
    for seed in rng.integers(1 << 30, size=3):
        for text, label in listops.expressions(200, int(seed), min_length=5, max_length=200, max_depth=6, max_args=5):
            tokens = text.split()
            value, end = value_of(tokens)
            assert end == len(tokens) and label == value == listops.evaluate(tokens)


def test_median_truncates_and_sum_wraps_around():
    assert listops.evaluate("[MED 2 3 ]".split()) == 2
    assert listops.evaluate("[SM 9 8 [MAX 1 7 ] ]".split()) == 4
    assert listops.evaluate("[MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]".split()) == 5


def test_expressions_keep_the_published_limits_and_are_distinct(rng):
    seed = int(rng.integers(1 << 30))
    examples = listops.expressions(300, seed, min_length=20, max_length=120, max_depth=5, max_args=6)
    texts = [text for text, _ in examples]
    assert len(set(texts)) == 300
    for text in texts:
        tokens = text.split()
        deepest, counts = shape_of(tokens)
        assert 20 < len(tokens) < 120
        assert deepest <= 4  # an operator below the root's level 5 would need children at depth 6
        assert all(2 <= count <= 6 for count in counts)
    assert {label for _, label in examples} == set(range(10))
    assert listops.expressions(300, seed, min_length=20, max_length=120, max_depth=5, max_args=6) == examples
    assert listops.expressions(300, seed + 1, min_length=20, max_length=120, max_depth=5, max_args=6) != examples


def test_tables_are_what_the_text_recipe_reads_and_are_never_overwritten(tmp_path):
    train, test = listops.write_tables(tmp_path / "listops", train=40, test=10, seed=3, min_length=10, max_length=60)
    read = read_labeled_table(train), read_labeled_table(test)
    assert [len(table) for table in read] == [40, 10]
    assert not set(read[0].texts) & set(read[1].texts)
    assert all(int(label) == listops.evaluate(text.split()) for table in read for text, label in zip(table.texts, table.labels))
    with raises_mentioning("exist already", "train.tsv", error=FileExistsError):
        listops.write_tables(tmp_path / "listops", train=40, test=10, seed=4, min_length=10, max_length=60)


@pytest.mark.parametrize("arguments, mentioned", [
    ({"max_args": 1}, ("`max_args`", "two arguments")),
    ({"min_length": 50, "max_length": 51}, ("`max_length`", "at least 52")),
    ({"count": 0}, ("`count`", "positive integer")),
])
def test_impossible_limits_are_refused(arguments, mentioned):
    with raises_mentioning(*mentioned):
        listops.expressions(**{"count": 5, "seed": 0, **arguments})


def test_the_command_writes_tables_and_refuses_bad_limits_with_a_message(tmp_path, capsys):
    listops.main([str(tmp_path / "out"), "--train", "5", "--test", "2", "--min-length", "5", "--max-length", "40"])
    assert (tmp_path / "out" / "train.tsv").is_file()
    with pytest.raises(SystemExit):
        listops.main([str(tmp_path / "out"), "--train", "5", "--min-length", "5", "--max-length", "40"])
    assert "exist already" in capsys.readouterr().err
