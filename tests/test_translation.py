"""Translation: decoder causality, cached == full decoding, beam search, paper sizes,
the loss and schedule, `.keras` round trips, data errors, and a smoke run on real Multi30k."""

import itertools
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import shared_runs
from event_files import read_texts
from tensorboard_client import check_served

import zoo
from recipes import cli, decoding, translation
from recipes import data as datasets
from recipes.catalog import read_catalog
from recipes.training.run import RunDirectory
from zoo.translation import decoder_for

TRANSLATION_MODELS = zoo.list_models(task="translation")
# zoo.describe(name) of every model, without building each again: test_zoo checks the file equals the registry.
DESCRIBED = read_catalog()
SMALL_VOCABULARIES = {"source_vocab_size": 60, "target_vocab_size": 60}
SMALL_MODEL = {**SMALL_VOCABULARIES, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32}


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def random_batch(rng, batch=3, source_length=7, target_length=6, vocab=60):
    source = rng.integers(4, vocab, size=(batch, source_length)).astype("int32")
    target = rng.integers(4, vocab, size=(batch, target_length)).astype("int32")
    source[0, source_length - 2 :] = 0  # padding
    return source, target


SMALL_RNN = {**SMALL_VOCABULARIES, "embedding_dim": 12}
# (registered name, overrides): every decoder family, and the options that change their wiring.
VARIANTS = {
    "transformer": ("transformer_tiny", {"num_layers": 2, **SMALL_MODEL}),
    "transformer_pre_ln_shared": ("transformer_tiny", {"num_layers": 2, **SMALL_MODEL, "norm_first": True, "shared_embeddings": True}),
    "transformer_untied": ("transformer_tiny", {"num_layers": 2, **SMALL_MODEL, "tie_output_embedding": False}),
    "bahdanau": ("seq2seq_bahdanau", {**SMALL_RNN, "encoder_units": 10, "decoder_units": 14, "attention_units": 9}),
    "luong": ("seq2seq_luong", {**SMALL_RNN, "units": 16, "num_layers": 2}),
    "luong_concat_no_feeding": ("seq2seq_luong", {**SMALL_RNN, "units": 16, "num_layers": 1, "score_mode": "concat", "input_feeding": False}),
}


def build_variant(variant):
    name, overrides = VARIANTS[variant]
    return zoo.build(name, **overrides)


@pytest.mark.parametrize("variant", VARIANTS)
def test_changing_a_target_token_never_changes_earlier_logits(rng, variant):
    model = build_variant(variant)
    source, target = random_batch(rng)
    logits = to_numpy(model({"source_tokens": source, "target_tokens_in": target}))
    for t in range(target.shape[1]):
        changed = target.copy()
        changed[:, t] = (changed[:, t] + 1 + rng.integers(0, 50)) % 56 + 4
        new_logits = to_numpy(model({"source_tokens": source, "target_tokens_in": changed}))
        np.testing.assert_allclose(new_logits[:, :t], logits[:, :t], atol=1e-5)
        assert not np.allclose(new_logits[:, t], logits[:, t], atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_source_padding_never_changes_the_logits(rng, variant):
    model = build_variant(variant)
    source, target = random_batch(rng)
    padded = np.concatenate([source, np.zeros((len(source), 3), dtype="int32")], axis=1)
    np.testing.assert_allclose(
        to_numpy(model({"source_tokens": padded, "target_tokens_in": target})),
        to_numpy(model({"source_tokens": source, "target_tokens_in": target})),
        atol=1e-5,
    )


def step_by_step_logits(decoder, source, target):
    state = decoder.encode(source)
    caches = decoder.start(state)
    logits = []
    for t in range(target.shape[1]):
        step_logits, caches = decoder.step(target[:, t], t, state, caches)
        logits.append(to_numpy(step_logits))
    return np.stack(logits, axis=1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cached_step_decoding_equals_the_full_forward_pass(rng, variant):
    model = build_variant(variant)
    source, target = random_batch(rng)
    full = to_numpy(model({"source_tokens": source, "target_tokens_in": target}))
    with warnings.catch_warnings():  # a step must not hand the embedding's padding mask to a cell, which warns
        warnings.filterwarnings("error", message=".*does not support masking")
        steps = step_by_step_logits(decoder_for(model), source, target)
    np.testing.assert_allclose(steps, full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", ["transformer", "luong"])
def test_the_compiled_decoder_decodes_as_the_eager_one_with_the_current_weights(rng, variant):
    """`decoding.compiled` runs each step as a TensorFlow graph or a jitted JAX computation, reused while the caches
    grow; weights changed after compiling (a model still training) are the ones it decodes with."""
    model = build_variant(variant)
    source, target = random_batch(rng)
    eager, graph = decoder_for(model), decoding.compiled(decoder_for(model), model.variables)
    options = {"start_id": 2, "end_id": 3, "max_length": 6, "beam_size": 3}
    for _ in range(2):
        np.testing.assert_allclose(
            step_by_step_logits(graph, source, target), step_by_step_logits(eager, source, target), atol=1e-5, rtol=1e-5
        )
        np.testing.assert_array_equal(decoding.beam_search(graph, source, **options), decoding.beam_search(eager, source, **options))
        model.set_weights([weight + rng.normal(0, 0.1, weight.shape) for weight in model.get_weights()])


@pytest.mark.parametrize("variant", ["transformer", "bahdanau", "luong"])
def test_beam_size_one_is_greedy(rng, variant):
    model = build_variant(variant)
    source, _ = random_batch(rng, batch=5)
    options = {"start_id": 2, "end_id": 3, "max_length": 12}
    greedy = decoding.greedy(decoder_for(model), source, **options)
    beam = decoding.beam_search(decoder_for(model), source, beam_size=1, **options)
    np.testing.assert_array_equal(beam, greedy)


class MarkovDecoder:
    """A decoder whose next-token log-probabilities depend only on the last token: a table."""

    def __init__(self, log_probs):
        self.log_probs = log_probs

    def encode(self, source):
        return {"rows": keras.ops.convert_to_tensor(np.arange(len(source)))}

    def start(self, state):
        return {"rows": state["rows"]}

    def step(self, tokens, index, state, caches):
        return self.log_probs[np.asarray(tokens)], caches


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_wide_beam_finds_the_best_length_normalized_sequence(rng, alpha):
    vocabulary, end, max_length = 4, 3, 4
    table = np.full((vocabulary, vocabulary), -np.inf)  # never padding (id 0)
    table[:, 1:] = np.log(rng.dirichlet(np.ones(vocabulary - 1), size=vocabulary))
    normalized_scores = {}  # every hypothesis: it stops at [END] or at max_length
    for length in range(1, max_length + 1):
        for sequence in itertools.product(range(1, vocabulary), repeat=length):
            if end in sequence[:-1] or (length < max_length and sequence[-1] != end):
                continue
            log_prob = sum(table[prev, tok] for prev, tok in zip((2,) + sequence[:-1], sequence))
            normalized_scores[sequence] = log_prob / ((5 + length) / 6) ** alpha  # Wu et al. 2016, Eq. 14
    found = decoding.beam_search(
        MarkovDecoder(table), np.zeros((1, 1)), start_id=2, end_id=end, max_length=max_length, beam_size=64, alpha=alpha
    )[0]
    found = tuple(int(t) for t in found if t != 0)
    # Compare scores, not sequences: hypotheses that reorder the same transitions tie exactly.
    assert found in normalized_scores
    assert normalized_scores[found] == pytest.approx(max(normalized_scores.values()), abs=1e-12)


def test_paper_parameter_counts():
    """Vaswani et al. Table 3 gives 65M (base) and 213M (big). The weights the paper
    describes, with a shared 37000-token vocabulary and tied embeddings, count
    63.1M and 214.2M (see zoo.translation.transformer); within 3.5% of the paper's."""
    base, big = DESCRIBED["transformer_base"]["parameters"], DESCRIBED["transformer_big"]["parameters"]
    assert base == pytest.approx(65e6, rel=0.035)
    assert big == pytest.approx(213e6, rel=0.035)
    # The counts come from the formula, not from a fitted constant.
    for count, d, d_ff in ((base, 512, 2048), (big, 1024, 4096)):
        attention, feedforward = 4 * (d * d + d), d * d_ff + d_ff + d_ff * d + d
        expected = 37000 * d + 6 * (attention + feedforward + 4 * d) + 6 * (2 * attention + feedforward + 6 * d)
        assert count == expected


@pytest.mark.parametrize("name, table", [
    ("transformer_base", {"num_layers": 6, "hidden_dim": 512, "intermediate_dim": 2048, "num_heads": 8}),  # Table 3
    ("transformer_big", {"num_layers": 6, "hidden_dim": 1024, "intermediate_dim": 4096, "num_heads": 16}),
    ("transformer_small", {"num_layers": 3, "hidden_dim": 256, "intermediate_dim": 512, "num_heads": 8}),
])
def test_transformers_have_their_tables_layers_widths_and_heads(name, table):
    """Parameter counts do not see the head count: read it from the blocks."""
    config = zoo.default_config(name)
    assert {key: config[key] for key in table} == table
    model = zoo.build(name, **(config | {"source_vocab_size": 50, "target_vocab_size": 50}))
    blocks = [layer for layer in model.layers if layer.name.startswith(("encoder_", "decoder_"))]
    assert len(blocks) == 2 * table["num_layers"]
    attentions = [getattr(block, name) for block in blocks for name in ("attention", "self_attention", "cross_attention")
                  if hasattr(block, name)]
    assert len(attentions) == 3 * table["num_layers"]  # one per encoder block, two per decoder block
    assert {attention.num_heads for attention in attentions} == {table["num_heads"]}


def test_small_counts_its_weights_by_the_formula():
    """Separate 8000-token source and target tables, the output tied to the target table: 8.05M."""
    d, d_ff, layers_per_stack, vocabulary = 256, 512, 3, 8000
    attention, feedforward = 4 * (d * d + d), d * d_ff + d_ff + d_ff * d + d
    encoder, decoder = attention + feedforward + 4 * d, 2 * attention + feedforward + 6 * d
    expected = 2 * vocabulary * d + layers_per_stack * (encoder + decoder)
    assert DESCRIBED["transformer_small"]["parameters"] == expected == 8_049_664


def test_vocabularies_are_read_when_resuming_learned_again_after_a_failed_start_and_shared_on_request(tmp_path):
    run = RunDirectory(tmp_path)
    train = datasets.SentencePairs(["Ein Hund läuft.", "Zwei Katzen schlafen."], ["A dog runs.", "Two cats sleep."])
    config = translation.Config(vocabulary_size=200)
    stale = [*translation.RESERVED_TOKENS, "stale"]
    for path in translation.vocabulary_files(run, shared=False):
        path.write_text("\n".join(stale) + "\n")
    resumed = translation.TASK.prepare(run, {"train": train}, config, resuming=True)
    assert resumed.source.get_vocabulary() == resumed.target.get_vocabulary() == stale
    learned = translation.TASK.prepare(run, {"train": train}, config, resuming=False)
    assert learned.source.get_vocabulary() == translation.learn_vocabulary(train.sources, config)
    assert learned.target.get_vocabulary() == translation.learn_vocabulary(train.targets, config)
    assert translation.TASK.prepare(run, {"train": train}, config, resuming=True).target.get_vocabulary() == (
        learned.target.get_vocabulary()
    )
    shared_config = translation.Config(vocabulary_size=200, shared_vocabulary=True)
    shared = translation.TASK.prepare(run, {"train": train}, shared_config, resuming=False)
    assert shared.source is shared.target  # one tokenizer, one file, learned from both sides
    assert shared.source.get_vocabulary() == translation.learn_vocabulary(train.sources + train.targets, config)
    assert run.vocabulary_file.read_text().splitlines() == shared.source.get_vocabulary()


def test_each_pair_is_packed_from_its_tokens_cut_to_max_length(rng, tmp_path):
    words = [f"w{n}" for n in rng.integers(0, 10**6, size=40)]
    sentences = [" ".join(rng.choice(words, size=rng.integers(1, 14))) for _ in range(60)]
    pairs = datasets.SentencePairs(sentences[:30], sentences[30:])
    config = translation.Config(vocabulary_size=80, max_length=8, batch_size=7)
    tokenizers = translation.TASK.prepare(RunDirectory(tmp_path), {"train": pairs}, config, resuming=False)
    start, end = tokenizers.start_id, tokenizers.end_id
    expected = {  # eagerly, one sentence at a time
        tuple(tokenizers.source(source)[:8]): ([start, *tokenizers.target(target)[:7]], [*tokenizers.target(target)[:7], end])
        for source, target in zip(pairs.sources, pairs.targets)
    }
    packed = {}
    for inputs, target_out in translation.TASK.make_dataset(pairs, tokenizers, config):
        for source, target_in, out in zip(*(keras.ops.convert_to_numpy(x) for x in (*inputs.values(), target_out))):
            assert len(source) <= 8 and len(target_in) <= 8
            source, target_in, out = (np.trim_zeros(x, "b").tolist() for x in (source, target_in, out))  # batch padding
            packed[tuple(source)] = (target_in, out)
    assert packed == expected


def test_shared_embeddings_need_one_vocabulary():
    with pytest.raises(ValueError, match="source_vocab_size and target_vocab_size must be equal"):
        zoo.build("transformer_base", target_vocab_size=100)


@pytest.mark.parametrize("name", TRANSLATION_MODELS)
def test_keras_round_trip_gives_identical_outputs(name, rng, tmp_path):
    # Small vocabularies (and one layer for the Transformers) keep the files small and the eager decoding short;
    # the code path is the paper model's.
    overrides = SMALL_VOCABULARIES | ({"num_layers": 1} if name.startswith("transformer_") else {})
    model = zoo.build(name, **overrides)
    source, target = random_batch(rng)
    inputs = {"source_tokens": source, "target_tokens_in": target}
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(model(inputs)), to_numpy(restored(inputs)))
    np.testing.assert_array_equal(step_by_step_logits(decoder_for(restored), source, target), step_by_step_logits(decoder_for(model), source, target))


def test_loss_averages_label_smoothed_crossentropy_over_real_tokens(rng):
    model = zoo.build("transformer_tiny", num_layers=1, **SMALL_MODEL)
    model.compile(loss=translation.SmoothedSparseCrossentropy(0.1))
    source, target = random_batch(rng)
    target[1, 3:] = 0
    labels = np.where(target != 0, rng.integers(4, 60, size=target.shape), 0).astype("int32")
    inputs = {"source_tokens": source, "target_tokens_in": target}
    loss = model.evaluate(inputs, labels, verbose=0)
    # Reference: Keras' dense label-smoothed crossentropy on one-hot labels, real tokens only.
    keras_loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction=None)
    per_token = to_numpy(keras_loss(keras.ops.one_hot(labels, 60), model(inputs)))
    np.testing.assert_allclose(loss, per_token[target != 0].mean(), rtol=1e-5)


def test_transformer_schedule_is_equation_3():
    schedule = translation.TransformerSchedule(512, warmup_steps=4000)
    for step in (1, 100, 4000, 10000):
        expected = 512**-0.5 * min(step**-0.5, step * 4000**-1.5)
        assert float(schedule(step - 1)) == pytest.approx(expected, rel=1e-5)


def test_detokenize_undoes_wordpiece_punctuation_splits():
    vocabulary = ["[PAD]", "[UNK]", "[START]", "[END]", "A", "man", "'", "s", "hat", ",", "red", ".", "(", ")", "##s"]
    tokenizer = translation.make_tokenizer(vocabulary)
    text = "A man's hats, (red)."
    ids = [2] + list(tokenizer([text])[0]) + [3, 0, 0]
    assert translation.detokenize(tokenizer, [ids]) == [text]


# ---------------------------------------------------------------- data


def test_multi30k_reader_reads_the_real_files(data_dir):
    splits = datasets.read_multi30k(data_dir, "en-de")
    assert {split: len(pairs) for split, pairs in splits.items()} == {"train": 29000, "validation": 1014, "test": 1000}
    assert splits["test"].sources[0] == "A man in an orange hat starring at something."
    assert splits["test"].targets[0] == "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt."


def test_spa_eng_split_is_70_15_15_and_fixed(data_dir):
    splits = datasets.read_spa_eng(data_dir, "es-en")
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [83276, 17844, 17844]
    again = datasets.read_spa_eng(data_dir, "es-en")
    assert again["test"].sources[:5] == splits["test"].sources[:5]
    # The file is english<TAB>spanish: en-es reads the first column as the source, es-en the second.
    english_first = datasets.read_spa_eng(data_dir, "en-es")
    for split in splits:
        assert english_first[split].sources == splits[split].targets
        assert english_first[split].targets == splits[split].sources
    pairs = {pair for split in english_first.values() for pair in zip(split.sources, split.targets)}
    assert ("Go.", "Ve.") in pairs and ("Ve.", "Go.") not in pairs  # the file's first line
    # Runs with other seeds (`benchmarks --seeds`) train and score on the same split.
    other_seed = translation.load_data(translation.Config(dataset="spa-eng", data_dir=data_dir, seed=7))
    for split in splits:
        assert other_seed[split].sources == english_first[split].sources


def test_missing_language_file_is_named(tmp_path):
    (tmp_path / "multi30k").mkdir()
    with pytest.raises(datasets.DataError, match=r"train\.de\.gz.*multi30k/\{train,val"):
        datasets.read_multi30k(tmp_path, "de-en")


def test_pair_files_of_different_lengths_name_both_counts(tmp_path):
    source, target = tmp_path / "a.de", tmp_path / "a.en"
    source.write_text("eins\nzwei\ndrei\n", encoding="utf-8")
    target.write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(datasets.DataError, match=r"a\.de has 3 lines but .*a\.en has 2"):
        datasets.read_parallel_files(source, target, "aligned lines")


def test_lines_split_only_at_line_ends_and_a_byte_order_mark_is_skipped(tmp_path):
    path = tmp_path / "pairs.tsv"
    # U+2028 and U+0085 inside a sentence, Windows line ends, and the byte order mark of Excel's UTF-8.
    path.write_text("Hi\u2028there.\tHola.\r\nA\x85b.\tUn b.\r\n", encoding="utf-8-sig", newline="")
    pairs = datasets.read_sentence_pair_table(path)
    assert (pairs.sources, pairs.targets) == (["Hi\u2028there.", "A\x85b."], ["Hola.", "Un b."])
    assert datasets.split_lines("a\nb") == datasets.split_lines("a\nb\n") == ["a", "b"]
    assert datasets.split_lines("") == []


def test_blank_pair_lines_are_skipped_and_a_missing_column_is_named(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\nEin Hund.\tA dog.\n  \nEine Katze.\tA cat.\n\n")
    read = datasets.read_sentence_pair_table(pairs)
    assert (read.sources, read.targets) == (["Ein Hund.", "Eine Katze."], ["A dog.", "A cat."])
    pairs.write_text("Ein Hund.\tA dog.\nEine Katze.\n")
    with pytest.raises(datasets.DataError, match=r"pairs.tsv, line 2: expected two non-empty tab-separated sentences"):
        datasets.read_sentence_pair_table(pairs)


def test_corrupt_gzip_is_named(tmp_path):
    (tmp_path / "broken.de.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(datasets.DataError, match="broken.de.gz"):
        datasets.read_lines_of(tmp_path / "broken.de.gz", "gzip text")


def test_unknown_direction_lists_the_allowed_ones():
    with pytest.raises(datasets.DataError, match=r"'fr-en'.*\['de-en', 'en-de'\]"):
        datasets.read_multi30k("/nonexistent", "fr-en")


def test_each_dataset_has_its_default_direction_and_others_are_refused_before_a_run_starts():
    assert translation.Config().direction == "de-en"
    assert translation.Config(dataset="spa-eng").direction == "en-es"
    assert translation.Config(dataset="spa-eng", direction="es-en").direction == "es-en"
    with pytest.raises(datasets.DataError, match=r"'de-en'.*\['en-es', 'es-en'\]"):
        translation.Config(dataset="spa-eng", direction="de-en")


def test_own_files_are_stored_absolute_so_the_run_evaluates_from_anywhere(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    config = translation.Config(train_file="train.tsv", validation_file="data/val.tsv", test_file="../test.tsv")
    assert [config.train_file, config.validation_file, config.test_file] == [
        str(tmp_path / "train.tsv"), str(tmp_path / "data" / "val.tsv"), str(tmp_path.parent / "test.tsv")
    ]


def test_bad_config_values_are_explained():
    with pytest.raises(ValueError, match="Unknown translation model 'bilstm_attention'"):
        translation.Config(model="bilstm_attention")
    with pytest.raises(ValueError, match="Unknown dataset 'wmt14'"):
        translation.Config(dataset="wmt14")
    with pytest.raises(ValueError, match="label_smoothing"):
        translation.Config(label_smoothing=1.5)
    for option, instead in (("source_vocab_size", "vocabulary_size"), ("target_vocab_size", "vocabulary_size"),
                            ("shared_embeddings", "shared_vocabulary")):
        with pytest.raises(ValueError, match=rf"model.{option} cannot be set: .*set `{instead}`"):
            translation.Config(model="transformer_base", model_options={option: True if option == "shared_embeddings" else 100})
    pair_files = {"train_file": "train.tsv", "validation_file": "val.tsv", "test_file": "test.tsv"}
    with pytest.raises(ValueError, match=r"dataset='spa-eng' and train_file/validation_file/test_file both choose the pairs"):
        translation.Config(dataset="spa-eng", **pair_files)
    with pytest.raises(ValueError, match=r"direction='en-de' applies to the named datasets; pair files translate their first"):
        translation.Config(direction="en-de", **pair_files)  # `--direction en-de --set train_file=...`
    for field, value, allowed in [
        ("learning_rate", "fast", r"a number in \(0, inf\) or None"),
        ("clip_norm", 0, r"a number in \(0, inf\) or None"),
        ("length_penalty", -1, r"a number in \[0, inf\)"),
        ("max_train_examples", -5, "a positive integer or None"),
        ("max_eval_examples", 0, "a positive integer or None"),
        ("vocabulary_size", 4, r"an integer of at least 5 \(the reserved tokens \[PAD\], \[UNK\], \[START\], \[END\] and one learned\)"),
    ]:
        with pytest.raises(ValueError, match=rf"`{field}` must be {allowed}; received {field}={value!r}"):
            translation.Config(**{field: value})
    learned = {"position_encoding": "learned", "max_length": 64}
    with pytest.raises(ValueError, match=r"covers model.max_length=64 tokens, fewer than the sentences' max_length=80"):
        translation.Config(model="transformer_tiny", max_length=80, model_options=learned)
    translation.Config(model="transformer_tiny", max_length=64, model_options=learned)


# ---------------------------------------------------------------- smoke run


@pytest.fixture(scope="module", params=shared_runs.TRANSLATION_MODELS)
def finished_run(request, tmp_path_factory, finished_runs):
    """Each model at its smoke size, 3 epochs on 500 Multi30k pairs (the Transformer's is the notebook's smoke run)."""
    return finished_runs.copy(translation, shared_runs.translation_settings(request.param), tmp_path_factory.mktemp("runs") / "multi30k")


def test_training_on_real_multi30k_lowers_the_loss(finished_run):
    _, result = finished_run
    losses = result.metrics["train_loss_per_epoch"]
    assert losses[-1] < losses[0] - 0.5
    assert 0 <= result.metrics["test_bleu_beam"] <= 100 and result.metrics["test_chrf_greedy"] > 0


def test_tensorboard_serves_bleu_cross_attention_and_translations(finished_run):
    config, result = finished_run
    kind = "cross_attention/decoder_0/head_0" if config.model == "transformer_tiny" else "alignment/decoder"
    figure = "cross_attention_figure/decoder_0" if config.model == "transformer_tiny" else "alignment_figure/decoder"
    check_served(
        result.run_dir,
        scalars={
            "train": {"epoch_loss", "epoch_token_accuracy", "epoch_learning_rate", "epoch_tokens_per_second"},
            "validation": {"epoch_loss", "epoch_bleu", "epoch_chrf"},
        },
        images={"attention": {f"{kind}/example_0", f"{figure}/example_1"}},
        texts={"attention": {f"translation/example_{i}" for i in range(2)}},
    )
    texts = read_texts(Path(result.run_dir) / "attention")
    first = translation.load_data(config)["validation"]
    assert texts["translation/example_0", config.epochs - 1].startswith(
        f"source: {first.sources[0]}\n\nreference: {first.targets[0]}\n\ntranslation: "
    )


def test_own_pair_files_train_from_the_cli_translating_the_first_column_into_the_second(data_dir, tmp_path, monkeypatch, capsys):
    english_german = datasets.read_multi30k(data_dir, "en-de")
    counts = {"train": 300, "validation": 20, "test": 20}
    for split, count in counts.items():
        pairs = english_german[split]
        lines = [f"{source}\t{target}\n" for source, target in zip(pairs.sources[:count], pairs.targets[:count])]
        (tmp_path / f"{split}.tsv").write_text("".join(lines), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    argv = ["train", "translation", "--model", "transformer_tiny", "--epochs", "1", "--run-dir", "run",
            "--set", "train_file=train.tsv", "--set", "validation_file=validation.tsv", "--set", "test_file=test.tsv",
            "--set", "model.hidden_dim=64", "--set", "model.intermediate_dim=128", "--set", "vocabulary_size=300",
            "--set", "max_length=24", "--set", "batch_size=32", "--set", "bleu_sample_size=10", "--set", "verbose=0", "--json"]
    assert cli.main(argv) == 0
    trained = json.loads(capsys.readouterr().out)
    assert (trained["train_pairs"], trained["test_pairs"], trained["direction"]) == (300, 20, None)
    config = translation.Config(**RunDirectory("run").read_config())
    train = english_german["train"].take(range(counts["train"]))
    assert (tmp_path / "run" / "source_vocabulary.txt").read_text(encoding="utf-8").splitlines() == (
        translation.learn_vocabulary(train.sources, config)  # English, the first column
    )
    assert (tmp_path / "run" / "target_vocabulary.txt").read_text(encoding="utf-8").splitlines() == (
        translation.learn_vocabulary(train.targets, config)
    )
    assert cli.main(["evaluate", "run"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_pairs"] == 20
    assert evaluated["test_bleu"] == pytest.approx(trained["test_bleu_beam"], abs=1e-6)
    assert cli.main(["translate", "run", "A man rides a bike."]) == 0


def test_saved_runs_load_after_import_zoo_alone(finished_runs, tmp_path):
    """Each model, its loss and its schedule: `import zoo` registers every object a run's model.keras holds."""
    model_files = [
        str(finished_runs.shared(translation, shared_runs.translation_settings(model)) / "model.keras")
        for model in shared_runs.TRANSLATION_MODELS
    ]
    probe = "import sys, keras, zoo\nfor path in sys.argv[1:]: print(type(keras.saving.load_model(path).loss).__name__)"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    completed = subprocess.run(
        [sys.executable, "-c", probe, *model_files], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split()[-len(model_files):] == ["SmoothedSparseCrossentropy"] * len(model_files)


def test_translate_and_cli_use_the_run(finished_run, capsys):
    config, result = finished_run
    translations = translation.translate(result.run_dir, ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen."])
    assert len(translations) == 2 and all(t.strip() for t in translations)
    assert cli.main(["translate", result.run_dir, "Ein Mann fährt Fahrrad."]) == 0
    assert capsys.readouterr().out.strip() == translations[0].strip()
    assert cli.main(["evaluate", result.run_dir]) == 0
    evaluated = json.loads(capsys.readouterr().out)  # the saved model, reloaded, scores what training reported
    assert evaluated["test_pairs"] == result.metrics["test_pairs"] == config.max_eval_examples
    assert evaluated["test_bleu"] == pytest.approx(result.metrics["test_bleu_beam"], abs=1e-6)
    assert evaluated["test_chrf"] == pytest.approx(result.metrics["test_chrf_beam"], abs=1e-6)
    assert cli.main(["translate", result.run_dir, "Ein Mann.", "\u200b"]) == 2
    assert "Sentence 2 of 2: '\\u200b' has no token" in capsys.readouterr().err
    with pytest.warns(UserWarning, match=rf"1 of 1 texts have more than {config.max_length} tokens .*\(max_length="):
        translation.translate(result.run_dir, [" ".join(["Mann"] * (config.max_length + 3))], beam_size=1)
    for beam_size in ("0", "-2"):
        assert cli.main(["translate", result.run_dir, "Hallo.", "--beam-size", beam_size]) == 2
        assert f"`beam_size` must be a positive integer or None; received beam_size={beam_size}" in capsys.readouterr().err
