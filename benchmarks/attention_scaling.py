"""Benchmark: an attention layer's forward and backward pass against the sequence length n, full and efficient.

Contenders (multi-head self-attention, `--heads` heads of `--key-dim`, model width heads x key_dim, batch 1):

* `full_explicit`: `layers.MultiHeadAttention` forming the weights (the path of attention
  dropout and of returned weights), O(n^2) time and memory;
* `full_fused`: the same layer on the backend's fused kernel (`keras.ops.dot_product_attention`);
* `keras_sliding_window`: `keras.layers.MultiHeadAttention(sliding_window=w + 1)` (the same
  band as `window`; Keras 3.15 applies it as a dense mask);
* `linformer` (k = `--projected-length`), `window` (w = `--window`), `performer` (m = `--features`).

One step is the gradient of the summed squared outputs with respect to the input and every
weight, jitted (JAX). Its memory is XLA's plan for the compiled step (arguments, outputs and
temporary buffers, `Compiled.memory_analysis`), known before it runs: a contender whose plan
exceeds `--memory-budget-gb`, or whose step took longer than `--time-budget-s`, is stopped for
every longer n, and the record says where. Time: the median of `--repeats` steps after one warm-up.
A second part times an encoder block (`TransformerEncoderBlock`, feed-forward 4x) with full
attention against one with Linformer attention (`--block-projected-length`, the paper's 128) at
`--block-length`, against Wang et al. 2020, Table 3 (5.5x at n = 8192, k = 128).

Writes `benchmarks/results/attention_scaling.json` and the log-log figure
`attention_scaling.png` beside it. Not a test.

    KERAS_BACKEND=jax python benchmarks/attention_scaling.py [--lengths 512 1024 ... 16384]
"""

import argparse
import json
import shlex
import statistics
import sys
import time

import keras
from common import RESULTS, machine

import layers

CONTENDERS = ("full_explicit", "full_fused", "keras_sliding_window", "linformer", "window", "performer")


def attention_layer(name, options, length):
    """`(layer, call options)` of contender `name` for sequences of `length`."""
    heads, key_dim = options.heads, options.key_dim
    if name in ("full_explicit", "full_fused"):
        return layers.MultiHeadAttention(heads, key_dim), {"return_attention_scores": name == "full_explicit"}
    if name == "keras_sliding_window":
        return keras.layers.MultiHeadAttention(heads, key_dim, sliding_window=options.window + 1), {}
    if name == "linformer":
        return layers.LinformerAttention(heads, key_dim, max_length=length, projected_length=options.projected_length), {}
    if name == "window":
        return layers.SlidingWindowAttention(heads, key_dim, window=options.window), {}
    return layers.PerformerAttention(heads, key_dim, num_features=options.features, seed=0), {}


def encoder_block(attention, options, length):
    block_options = {"max_length": length, "projected_length": options.block_projected_length} if attention == "linformer" else {}
    width = options.heads * options.key_dim
    return layers.TransformerEncoderBlock(options.heads, 4 * width, attention=attention, attention_options=block_options), {}


def compiled_step(layer, call_options, x):
    """The jitted gradient step of `layer` on `x` (self-attention; a block takes `x` alone), compiled for `x`."""
    import jax

    def inputs(x):
        return (x,) if isinstance(layer, layers.TransformerEncoderBlock) else (x, x)

    layer(*inputs(x), **call_options)  # builds the weights
    trainable = [variable.value for variable in layer.trainable_variables]
    frozen = [variable.value for variable in layer.non_trainable_variables]

    def loss(trainable, x):
        outputs, _ = layer.stateless_call(trainable, frozen, *inputs(x), **call_options)
        output = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
        return keras.ops.sum(keras.ops.square(output))

    step = jax.jit(jax.grad(loss, argnums=(0, 1)))
    return step.lower(trainable, x).compile(), (trainable, x)


def planned_bytes(compiled):
    stats = compiled.memory_analysis()
    return stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes - stats.alias_size_in_bytes


def measure(make_layer, length, options):
    """`{"seconds": ..., "bytes": ...}` of one step at `length`, or `{"bytes": ..., "stopped": why}`."""
    import jax

    x = keras.random.normal((1, length, options.heads * options.key_dim), seed=0)
    layer, call_options = make_layer(length)
    compiled, arguments = compiled_step(layer, call_options, x)
    memory = planned_bytes(compiled)
    if memory > options.memory_budget_gb * 2**30:
        return {"bytes": memory, "stopped": f"plans {memory / 2**30:.1f} GiB, over the {options.memory_budget_gb} GiB budget"}
    jax.block_until_ready(compiled(*arguments))
    times = []
    for _ in range(options.repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*arguments))
        times.append(time.perf_counter() - start)
        if times[-1] > options.time_budget_s:
            break
    return {"seconds": statistics.median(times), "bytes": memory}


def scaling(options):
    """`{contender: {n: measurement}}`, each contender measured until it is stopped."""
    results = {name: {} for name in options.contenders}
    for length in options.lengths:
        for name in options.contenders:
            if any("stopped" in r or r["seconds"] > options.time_budget_s for r in results[name].values()):
                continue
            results[name][length] = measure(lambda n, name=name: attention_layer(name, options, n), length, options)
            print(name, length, results[name][length], flush=True)
    return results


def ratios_at(results, length, baseline):
    """`{contender: (baseline time / its time, baseline bytes / its bytes)}` at `length`, where both ran (none where
    the baseline is not among the contenders)."""
    base = results.get(baseline, {}).get(length)
    if base is None or "seconds" not in base:
        return {}
    return {
        name: {"speedup": base["seconds"] / runs[length]["seconds"], "memory_saving": base["bytes"] / runs[length]["bytes"]}
        for name, runs in results.items()
        if name != baseline and "seconds" in runs.get(length, {})
    }


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, runs in results.items():
        lengths = [n for n, r in runs.items() if "seconds" in r]
        axes[0].loglog(lengths, [runs[n]["seconds"] * 1e3 for n in lengths], marker="o", label=name)
        axes[1].loglog(list(runs), [r["bytes"] / 2**20 for r in runs.values()], marker="o", label=name)
    for axis, label in zip(axes, ("forward + backward, ms", "XLA's planned memory, MiB")):
        axis.set_xlabel("sequence length n")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--key-dim", type=int, default=64)
    parser.add_argument("--projected-length", type=int, default=256)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--time-budget-s", type=float, default=30.0)
    parser.add_argument("--memory-budget-gb", type=float, default=12.0)
    parser.add_argument("--block-length", type=int, default=8192)
    parser.add_argument("--block-projected-length", type=int, default=128)
    parser.add_argument("--compare-at", type=int, default=8192, help="the length of the ratios in the record")
    parser.add_argument("--output", default="attention_scaling", help="name of the JSON and PNG in benchmarks/results")
    options = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit("attention_scaling.py measures compiled JAX steps: run it with KERAS_BACKEND=jax.")

    results = scaling(options)
    blocks = {
        attention: measure(lambda n, attention=attention: encoder_block(attention, options, n), options.block_length, options)
        for attention in ("full", "linformer")
    }
    both_ran = all("seconds" in block for block in blocks.values())
    record = {
        "benchmark": "attention_scaling",
        "settings": {key: value for key, value in vars(options).items() if key != "output"},
        "results": {name: {str(n): r for n, r in runs.items()} for name, runs in results.items()},
        f"against_full_explicit_at_{options.compare_at}": ratios_at(results, options.compare_at, "full_explicit"),
        f"against_full_fused_at_{options.compare_at}": ratios_at(results, options.compare_at, "full_fused"),
        "encoder_block": {
            **blocks,
            "linformer_speedup": blocks["full"]["seconds"] / blocks["linformer"]["seconds"] if both_ran else None,
            "paper_speedup": 5.5,
        },
        "machine": machine(),
        "command": "KERAS_BACKEND=jax " + shlex.join(["python", "benchmarks/attention_scaling.py", *(sys.argv[1:] if argv is None else argv)]),
    }
    path = RESULTS / f"{options.output}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    figure(results, RESULTS / f"{options.output}.png")
    print(json.dumps({key: record[key] for key in record if key.startswith("against") or key == "encoder_block"}, indent=2))
    print(f"-> {path}")
    return record


if __name__ == "__main__":
    main()
