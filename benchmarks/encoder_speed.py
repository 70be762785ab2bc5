"""Benchmark: the zoo's Transformer text encoder against keras_hub's, training steps on the same shapes, one process.

Both are post-LN encoders of `layers` blocks (the zoo's `transformer_classifier`) or
`keras_hub.layers.TransformerEncoder` blocks (keras_hub's), each over a token and
position embedding, mean pooling and a linear classifier, with the same number of
parameters (checked). Contenders, at the same `dropout`:

* `zoo`: the zoo's defaults, no dropout on the attention weights (`attention_dropout=0`,
  Vaswani et al.), so training runs the fused attention kernel;
* `zoo_attention_dropout`: the zoo with `attention_dropout=dropout`, the same work as
  keras_hub, whose `dropout` also drops the attention weights;
* `keras_hub`.

Each round times `--steps` training steps of every contender in turn on one fixed
random batch (after 3 warm-up steps); the median round gives each one's examples/s,
so a slow spell of the host hits all alike. Writes
`benchmarks/results/encoder_speed_<backend>[_<tag>].json`. Not a test.

    python benchmarks/encoder_speed.py [--dropout 0.1] [--precision float32] [--steps 10] [--rounds 3] [--tag TAG]
    KERAS_BACKEND=jax python benchmarks/encoder_speed.py
"""

import argparse
import functools
import json
import shlex
import statistics
import sys

import keras
import keras_hub
import numpy as np
from common import RESULTS, machine, seconds_per_step

import zoo
from recipes.training.precision import PRECISIONS, dtype_policy

# A small BERT-like shape these 2-core CPUs train in seconds per round; `--shape bert_base` is BERT-base's.
SHAPES = {
    "small": {"vocab_size": 8000, "sequence_length": 128, "hidden_dim": 256, "num_layers": 4, "num_heads": 4, "intermediate_dim": 1024, "batch_size": 32},
    "bert_base": {"vocab_size": 30522, "sequence_length": 512, "hidden_dim": 768, "num_layers": 12, "num_heads": 12, "intermediate_dim": 3072, "batch_size": 32},
}
WARMUP_STEPS = 3


def zoo_encoder(shape, dropout, attention_dropout):
    arguments = {key: value for key, value in shape.items() if key != "batch_size"}
    return zoo.build("transformer_classifier_tiny", **arguments, dropout=dropout, attention_dropout=attention_dropout)


def keras_hub_encoder(shape, dropout):
    """The zoo classifier's architecture from keras_hub's layers (its `dropout` also on the attention weights)."""
    tokens = keras.Input(shape=(shape["sequence_length"],), dtype="int32", name="token_ids")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        shape["vocab_size"], shape["sequence_length"], shape["hidden_dim"], mask_zero=True
    )(tokens)
    x = keras.layers.Dropout(dropout)(x)
    for _ in range(shape["num_layers"]):
        x = keras_hub.layers.TransformerEncoder(shape["intermediate_dim"], shape["num_heads"], dropout=dropout)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(tokens, keras.layers.Dense(2, dtype="float32")(x))


def contenders(shape, dropout, precision):
    """`{name: compiled model}`, built in `precision`."""
    with dtype_policy(precision):
        models = {
            "zoo": zoo_encoder(shape, dropout, 0.0),
            "zoo_attention_dropout": zoo_encoder(shape, dropout, dropout),
            "keras_hub": keras_hub_encoder(shape, dropout),
        }
    parameters = {name: model.count_params() for name, model in models.items()}
    if len(set(parameters.values())) != 1:
        raise RuntimeError(f"The contenders differ in size: {parameters}")
    for model in models.values():
        model.compile(keras.optimizers.AdamW(1e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return models, parameters["zoo"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--dropout", type=float, default=0.1, help="every contender's dropout (BERT's 0.1)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per contender and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tag", default=None, help="a second record beside the default one: encoder_speed_<backend>_<tag>.json")
    args = parser.parse_args(argv)

    shape = SHAPES[args.shape]
    keras.utils.set_random_seed(0)
    models, parameters = contenders(shape, args.dropout, args.precision)
    rng = np.random.default_rng(0)
    batch = (
        rng.integers(1, shape["vocab_size"], size=(shape["batch_size"], shape["sequence_length"])).astype("int32"),
        rng.integers(0, 2, size=shape["batch_size"]),
    )
    for model in models.values():
        for _ in range(WARMUP_STEPS):
            model.train_on_batch(*batch)
    steps = {name: functools.partial(model.train_on_batch, *batch) for name, model in models.items()}
    rounds = [{name: seconds_per_step(step, args.steps) for name, step in steps.items()} for _ in range(args.rounds)]
    examples_per_second = {name: shape["batch_size"] / statistics.median(r[name] for r in rounds) for name in models}
    record = {
        "benchmark": "encoder_speed",
        "shape": {"name": args.shape, **shape},
        "parameters": parameters,
        "dropout": args.dropout,
        "precision": args.precision,
        "examples_per_second": examples_per_second,
        "zoo_over_keras_hub": examples_per_second["zoo"] / examples_per_second["keras_hub"],
        "zoo_attention_dropout_over_keras_hub": examples_per_second["zoo_attention_dropout"] / examples_per_second["keras_hub"],
        "seconds_per_step_each_round": rounds,
        "machine": machine(),
        "command": ("KERAS_BACKEND=jax " if keras.backend.backend() == "jax" else "")
        + shlex.join(["python", "benchmarks/encoder_speed.py", *(sys.argv[1:] if argv is None else argv)]),
    }
    name = f"encoder_speed_{keras.backend.backend()}{'_' + args.tag if args.tag else ''}"
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({key: record[key] for key in ("examples_per_second", "zoo_over_keras_hub", "zoo_attention_dropout_over_keras_hub")}, indent=2))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
