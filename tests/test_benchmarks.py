"""The benchmark runner: one run per seed, the mean and spread of the figures, the JSON record, the README row; and
that the encoder speed benchmark times one network from both libraries."""

import dataclasses
import json
import statistics
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from benchmark_scripts import load

common, results_table, text_classification = load("common"), load("results_table"), load("text_classification")


def test_mean_over_seeds_matches_statistics_elementwise_and_keeps_shared_values(rng):
    runs = [
        {"accuracy": float(rng.random()), "losses": rng.random(3).tolist(), "per_class": {"a": float(rng.random())},
         "model": "m", "examples": 64061}
        for _ in range(4)
    ]
    mean = common.mean_over_seeds(runs)
    assert mean["accuracy"] == pytest.approx(statistics.fmean(run["accuracy"] for run in runs))
    assert mean["losses"] == pytest.approx([statistics.fmean(run["losses"][i] for run in runs) for i in range(3)])
    assert mean["per_class"]["a"] == pytest.approx(statistics.fmean(run["per_class"]["a"] for run in runs))
    assert (mean["model"], mean["examples"]) == ("m", 64061)
    assert isinstance(mean["examples"], int)
    # Texts that differ between seeds (a translation run's samples) are the first seed's.
    samples = [{"samples": [{"source": "Ein Hund.", "translation": f"A dog {i}."}], "bleu": float(i)} for i in range(3)]
    assert common.mean_over_seeds(samples) == {"samples": samples[0]["samples"], "bleu": 1.0}


def test_spread_over_seeds_is_the_sample_standard_deviation_of_varying_scalars(rng):
    runs = [{"accuracy": float(rng.random()), "examples_per_second": 100.0, "examples": 7} for _ in range(5)]
    assert common.spread_over_seeds(runs) == {
        "accuracy": pytest.approx(statistics.stdev(run["accuracy"] for run in runs))
    }


@dataclasses.dataclass
class ToyConfig:
    model: str = "toy"
    model_options: dict = dataclasses.field(default_factory=dict)
    run_dir: str = "runs/toy"
    epochs: int = 2
    seed: int = 1337

    def to_dict(self):
        return dataclasses.asdict(self)


def toy_task(trained):
    """A task whose accuracy is a known function of the seed; `trained` collects its configs."""

    def train(config):
        trained.append(config)
        metrics = {"model": config.model, "parameters": 10, "epochs": config.epochs, "wall_time_seconds": 60.0 * config.seed,
                   "test_accuracy": config.seed / 10}
        return SimpleNamespace(metrics=metrics)

    return SimpleNamespace(Config=ToyConfig, train=train)


def run_toy(tmp_path, monkeypatch, argv, entry="toy"):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    trained = []
    common.run_benchmarks(
        benchmark="text_classification", task=toy_task(trained), models=["toy"],
        figures=lambda metrics: {"dev_accuracy": metrics["test_accuracy"], "train_examples_per_second": 5.0},
        description="toy", argv=argv,
    )
    return trained, json.loads((tmp_path / f"text_classification_{entry}.json").read_text())


def test_run_benchmarks_trains_once_per_seed_and_records_mean_and_spread(tmp_path, monkeypatch):
    trained, record = run_toy(tmp_path, monkeypatch, ["--seeds", "1", "2", "6", "--set", "epochs=3", "--runs-dir", "r"])
    assert [(config.seed, config.epochs, config.run_dir) for config in trained] == [
        (1, 3, "r/text_classification/toy/seed1"), (2, 3, "r/text_classification/toy/seed2"),
        (6, 3, "r/text_classification/toy/seed6"),
    ]
    assert record["seeds"] == [1, 2, 6]
    assert record["dev_accuracy"] == pytest.approx(0.3)
    assert record["std"] == {"dev_accuracy": pytest.approx(statistics.stdev([0.1, 0.2, 0.6]))}
    assert [run["dev_accuracy"] for run in record["per_seed"]] == pytest.approx([0.1, 0.2, 0.6])
    assert record["wall_time_seconds"] == pytest.approx(180.0)
    assert record["command"] == "python benchmarks/text_classification.py --models toy --seeds 1 2 6 --set epochs=3"

    assert "| 30.00 ± 26.46% accuracy (mean of 3 seeds) | 3 | 3.0 min per seed |" in results_table.row(record)


@pytest.mark.parametrize("argv, seed", [([], 1337), (["--set", "seed=5"], 5)])
def test_run_benchmarks_without_seeds_trains_the_config_seed_once(tmp_path, monkeypatch, argv, seed):
    trained, record = run_toy(tmp_path, monkeypatch, argv)
    assert [(config.seed, config.run_dir) for config in trained] == [(seed, "runs/benchmarks/text_classification/toy")]
    assert "seeds" not in record and "std" not in record
    assert f"| {10 * seed:.2f}% accuracy | 2 | {seed:.1f} min |" in results_table.row(record)


def test_a_distilled_row_adds_its_teachers_time(tmp_path, monkeypatch):
    _, record = run_toy(tmp_path, monkeypatch, ["--seeds", "1", "2"])
    assert " min of teachers" not in results_table.row(record)
    metrics = {"test_accuracy": 0.8, "train_examples_per_second": 9.0, "train_examples": 3,
               "teacher_wall_time_seconds": 480.0, "teacher_inference_seconds": 60.0}
    record |= text_classification.figures(metrics)
    assert record["teacher_time_seconds"] == 540.0
    assert "| 1.5 min per seed + 9.0 min of teachers |" in results_table.row(record)


def test_run_benchmarks_refuses_seeds_given_twice(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="--seeds or with --set seed"):
        run_toy(tmp_path, monkeypatch, ["--seeds", "1", "2", "--set", "seed=3"])


def test_a_tag_gives_a_model_a_second_run_and_record_beside_the_shared_one(tmp_path, monkeypatch):
    run_toy(tmp_path, monkeypatch, [])
    trained, record = run_toy(tmp_path, monkeypatch, ["--tag", "long", "--set", "epochs=9"], entry="toy_long")
    assert [config.run_dir for config in trained] == ["runs/benchmarks/text_classification/toy_long"]
    assert record["command"] == "python benchmarks/text_classification.py --models toy --tag long --set epochs=9"
    assert json.loads((tmp_path / "text_classification_toy.json").read_text())["epochs"] == 2
    assert "| `toy` | " in results_table.row(record) and "| 9 |" in results_table.row(record)


@pytest.mark.parametrize("tag", ["Long", "a/b", "", "_x"])
def test_a_tag_that_cannot_name_a_file_is_refused(tmp_path, monkeypatch, tag):
    with pytest.raises(ValueError, match=f"--tag must be lowercase letters.*received {tag!r}"):
        run_toy(tmp_path, monkeypatch, ["--tag", tag])


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx avx2 fma avx512f avx512bw", "Example CPU 9000 (avx512f)"),
    ("fpu sse2 avx fma avx2", "Example CPU 9000 (avx2)"),
    ("fpu sse2", "Example CPU 9000 (no AVX)"),
])
def test_machine_names_the_cpu_and_its_widest_vector_extension(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Example CPU 9000\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert common.cpu_model(cpuinfo) == expected
    assert common.cpu_model(tmp_path / "missing") is None


def test_rows_name_the_cpu_where_the_record_has_it(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "cpu_model", lambda: "Example CPU 9000 (avx2)")
    _, record = run_toy(tmp_path, monkeypatch, [])
    cores = record["machine"]["cpu_count"]
    assert f"| {cores} CPU cores (Example CPU 9000 (avx2)), " in results_table.row(record)
    del record["machine"]["cpu"]  # records written before the CPU was recorded
    assert f"| {cores} CPU cores, " in results_table.row(record)


def test_the_evaluation_set_is_named_from_the_config():
    words = {"direction": "en-es", "beam_size": 4, "test_bleu_beam": 30.0, "test_bleu_greedy": 29.0, "test_chrf_beam": 50.0,
             "train_tokens_per_second": 900.0}
    assert results_table.translation(words | {"config": {"dataset": "multi30k"}})[0] == "Multi30k en-es test2016"
    assert results_table.translation(words | {"config": {"dataset": "spa-eng"}})[0] == "spa-eng en-es test split"
    own_pairs = {"dataset": "multi30k", "test_file": "/data/pairs/test.tsv"}
    assert results_table.translation(words | {"config": own_pairs})[0] == "test.tsv (own data)"
    sentences = {"dev_accuracy": 0.8, "train_examples_per_second": 10.0}
    assert results_table.text_classification(sentences | {"config": {}})[0] == "SST-2 dev"
    assert results_table.text_classification(sentences | {"config": {"test_file": "reviews/test.csv"}})[0] == "test.csv (own data)"
    images = {"test_accuracy": 0.9, "train_images_per_second": 10.0}
    assert results_table.image_recognition(images | {"config": {"dataset": "mnist", "test_dir": None}})[0] == "MNIST test"
    folders = {"dataset": "fashion_mnist", "test_dir": "/photos/test"}
    assert results_table.image_recognition(images | {"config": folders})[0] == "test (own data)"
    lists = {"test_accuracy": 0.35, "train_examples_per_second": 90.0}
    assert results_table.listops(lists | {"config": {"model_options": {}}})[0] == "ListOps test, full attention"
    assert results_table.listops(lists | {"config": {"model_options": {"attention": "window"}}})[0] == "ListOps test, window attention"


def test_the_time_series_records_make_a_table_per_setting_beside_the_published_figures(tmp_path, monkeypatch):
    records = [("se_fcn", "GunPoint", "", 0.95), ("se_resnet1d", "GunPoint", "", 0.97), ("se_fcn", "ArrowHead", "", 0.6),
               ("resnet1d", "GunPoint", "_full", 0.99), ("se_fcn", "Coffee", "_x", 1.0)]
    for model, dataset, tag, accuracy in records:
        record = {"model": model, "test_accuracy": accuracy, "config": {"dataset": dataset}}
        (tmp_path / f"time_series_{model}_{dataset.lower()}{tag}.json").write_text(json.dumps(record))
    own = {"model": "se_fcn", "test_accuracy": 0.5, "config": {"dataset": "GunPoint", "test_file": "/d/mine_TEST.ts"}}
    (tmp_path / "time_series_se_fcn_gunpoint_own.json").write_text(json.dumps(own))
    monkeypatch.setattr(results_table, "RESULTS", tmp_path)
    full, defaults, own_table, other = results_table.render_time_series().split("\n\nTime series, ")  # known settings first
    assert "| mine_TEST.ts (own data) | **50.00** | - | - | - |" in own_table and "| GunPoint | - |" in own_table
    assert other.startswith("`--tag <dataset>_x`") and "| Coffee | **100.00** | - | - | - |" in other
    assert "| dataset | `resnet1d` | ResNet | FCN | InceptionTime |" in full and "| GunPoint | **99.00** | 99.07 | 100.00 | 100.00 |" in full
    assert "| dataset | `se_fcn` | `se_resnet1d` | ResNet | FCN | InceptionTime |" in defaults
    assert "| GunPoint | 95.00 | **97.00** | 99.07 | 100.00 | 100.00 |" in defaults
    assert "| ArrowHead | **60.00** | - | 83.77 | 84.34 | 84.57 |" in defaults
    assert "| BasicMotions | - | - | 100.00 | - | 100.00 |" in defaults


def test_the_time_series_benchmark_runs_each_dataset_and_a_records_command_runs_its_own(monkeypatch):
    time_series = load("time_series")
    calls = []
    monkeypatch.setattr(time_series, "run_benchmarks", lambda **options: calls.append(options["argv"]))
    monkeypatch.setattr("sys.argv", ["time_series.py", "--datasets", "GunPoint", "OSULeaf", "--models", "se_fcn"])
    time_series.main()
    assert calls == [
        ["--models", "se_fcn", "--tag", "gunpoint", "--set", "dataset=GunPoint"],
        ["--models", "se_fcn", "--tag", "osuleaf", "--set", "dataset=OSULeaf"],
    ]
    calls.clear()
    monkeypatch.setattr("sys.argv", ["time_series.py", "--datasets", "GunPoint", "--tag", "long", "--set", "epochs=500"])
    time_series.main()
    assert calls == [["--set", "epochs=500", "--tag", "gunpoint_long", "--set", "dataset=GunPoint"]]
    calls.clear()
    recorded = ["--models", "se_fcn", "--tag", "osuleaf_long", "--set", "epochs=500", "--set", "dataset=OSULeaf"]
    monkeypatch.setattr("sys.argv", ["time_series.py", *recorded])
    time_series.main()
    assert calls == [recorded]


def test_the_listops_benchmark_writes_its_tables_once(tmp_path, monkeypatch):
    listops = load("listops")
    monkeypatch.setattr(listops, "DATA", {"train": 30, "test": 10, "min_length": 5, "max_length": 40})
    train, test = listops.tables(tmp_path / "data")
    assert len(train.read_text().splitlines()) == 31 and len(test.read_text().splitlines()) == 11
    written = train.read_text()
    assert listops.tables(tmp_path / "data") == (train, test) and train.read_text() == written


def test_the_encoder_benchmark_times_the_same_network_from_both_libraries(rng):
    """The zoo's and keras_hub's contenders are one architecture: the same weights give the same logits."""
    encoder_speed = load("encoder_speed")
    shape = {"vocab_size": 50, "sequence_length": 12, "hidden_dim": 16, "num_layers": 2, "num_heads": 2,
             "intermediate_dim": 32, "batch_size": 3}
    models, _ = encoder_speed.contenders(shape, dropout=0.1, precision="float32")
    weights = [rng.normal(0, 0.3, weight.shape) for weight in models["zoo"].get_weights()]
    tokens = rng.integers(1, 50, size=(3, 12))  # no padding: the benchmark's batch has none
    logits = {}
    for name, model in models.items():
        model.set_weights(weights)
        logits[name] = keras.ops.convert_to_numpy(model(tokens, training=False))
    np.testing.assert_allclose(logits["keras_hub"], logits["zoo"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits["zoo_attention_dropout"], logits["zoo"], rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the scaling benchmark compiles JAX steps: the JAX rerun runs it")
def test_the_scaling_benchmark_stops_a_contender_over_its_budget_and_compares_the_others():
    attention_scaling = load("attention_scaling")
    options = SimpleNamespace(
        contenders=["full_explicit", "window"], lengths=[32, 64, 128], heads=2, key_dim=4, window=4, repeats=1,
        time_budget_s=60.0, memory_budget_gb=0.0,  # refined below: full attention's plan at 64 is over the budget
    )
    footprint = attention_scaling.measure(lambda n: attention_scaling.attention_layer("full_explicit", options, n), 64, options)
    options.memory_budget_gb = (footprint["bytes"] - 1) / 2**30
    results = attention_scaling.scaling(options)
    assert list(results["full_explicit"]) == [32, 64] and "stopped" in results["full_explicit"][64]
    assert list(results["window"]) == [32, 64, 128] and all("seconds" in r for r in results["window"].values())
    assert set(attention_scaling.ratios_at(results, 32, "full_explicit")) == {"window"}
    assert attention_scaling.ratios_at(results, 64, "full_explicit") == {}
    assert attention_scaling.ratios_at(results, 32, "full_fused") == {}  # not a contender of this run
