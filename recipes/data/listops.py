"""ListOps (Nangia and Bowman, 2018) as the Long Range Arena generates it (Tay et al., 2020, Section 3.1): nested
list operations over the digits 0-9, whose value (a digit) is the class of a 10-way classification.

    [MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]   ->   5

Operators: `[MAX`, `[MIN`, `[MED` (the median, truncated to an integer: of 2 and 3, 2) and `[SM` (the sum modulo
10), each closed by `]`. A tree is drawn top down: a node below `max_depth` is an operator with probability 0.25,
else a digit; an operator takes 2 to `max_args` arguments, each drawn the same way one level deeper; the root is at
depth 1. Expressions are kept when their length in tokens (digits, operators, closing brackets) lies strictly between
`min_length` and `max_length`, and each is kept once. The Long Range Arena uses max_depth 10, max_args 10, lengths
500-2000, 96,000 training and 2,000 test expressions; `write_tables` writes any size as the text recipe's tables
(columns "sentence" and "label"):

    python -m recipes.data.listops OUTPUT_DIR [--train 96000] [--test 2000] [--min-length 500] [--max-length 2000]
    zoo train text-classification --set train_file=OUTPUT_DIR/train.tsv --set test_file=OUTPUT_DIR/test.tsv ...

Papers: Nangia and Bowman, "ListOps: A Diagnostic Dataset for Latent Tree Learning", NAACL SRW 2018; Tay et al.,
"Long Range Arena: A Benchmark for Efficient Transformers", ICLR 2021.
"""

import argparse
import csv
import random
import statistics
from pathlib import Path

from layers.validation import check_int_at_least, check_positive_int

OPERATORS = {
    "[MAX": max,
    "[MIN": min,
    "[MED": lambda values: int(statistics.median(values)),
    "[SM": lambda values: sum(values) % 10,
}
CLOSE = "]"
OPERATOR_PROBABILITY = 0.25
LRA = {"max_depth": 10, "max_args": 10, "min_length": 500, "max_length": 2000}


def random_expression(rng, max_depth=LRA["max_depth"], max_args=LRA["max_args"], depth=1):
    """The tokens of one random expression (`rng`: a `random.Random`), drawn as the module's docstring says."""
    if depth >= max_depth or rng.random() > OPERATOR_PROBABILITY:
        return [str(rng.randrange(10))]
    arguments = [random_expression(rng, max_depth, max_args, depth + 1) for _ in range(rng.randint(2, max_args))]
    return [rng.choice(list(OPERATORS))] + [token for argument in arguments for token in argument] + [CLOSE]


def evaluate(tokens):
    """The value of an expression's tokens, read left to right with a stack of open operators."""
    stack = [("", [])]
    for token in tokens:
        if token in OPERATORS:
            stack.append((token, []))
        elif token == CLOSE:
            operator, values = stack.pop()
            stack[-1][1].append(OPERATORS[operator](values))
        else:
            stack[-1][1].append(int(token))
    [value] = stack[0][1]
    return value


def expressions(count, seed, min_length=LRA["min_length"], max_length=LRA["max_length"], max_depth=LRA["max_depth"], max_args=LRA["max_args"]):
    """`count` distinct expressions `[(text, value)]` whose lengths lie strictly between the two lengths."""
    check_positive_int(count=count, max_depth=max_depth)
    check_int_at_least(2, " (an operator takes two arguments at least)", max_args=max_args)
    check_int_at_least(0, min_length=min_length)
    check_int_at_least(min_length + 2, " (lengths lie strictly between min_length and max_length)", max_length=max_length)
    rng, found = random.Random(seed), {}
    while len(found) < count:
        tokens = random_expression(rng, max_depth, max_args)
        if min_length < len(tokens) < max_length:
            found.setdefault(" ".join(tokens), evaluate(tokens))
    return list(found.items())


def write_tables(directory, train=96000, test=2000, seed=0, **lengths):
    """Writes `train.tsv` and `test.tsv` (columns "sentence", "label") of distinct expressions into `directory`,
    which must not hold them already; returns their paths."""
    directory = Path(directory)
    paths = [directory / "train.tsv", directory / "test.tsv"]
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise FileExistsError(f"{existing} exist already; ListOps tables are written into a directory without them.")
    examples = expressions(train + test, seed, **lengths)
    directory.mkdir(parents=True, exist_ok=True)
    for path, rows in zip(paths, (examples[:train], examples[train:])):
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None)
            writer.writerow(["sentence", "label"])
            writer.writerows(rows)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--train", type=int, default=96000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    for name, default in LRA.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    args = parser.parse_args(argv)
    lengths = {name: getattr(args, name) for name in LRA}
    try:
        paths = write_tables(args.directory, args.train, args.test, args.seed, **lengths)
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    print("\n".join(map(str, paths)))


if __name__ == "__main__":
    main()
