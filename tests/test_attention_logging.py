"""Attention in TensorBoard: the logged images are the model's attention weights, for every recipe's models."""

import keras
import numpy as np
import pytest
from event_files import read_images, read_texts

import zoo
from recipes import translation
from recipes.reporting import figures
from recipes.training.run import RunDirectory
from layers.efficient import window_weights_as_matrix
from recipes.reporting.attention_logging import AttentionMapLogger, image_summaries, patch_grid, text_classification_summaries

EXACT = 0.5 / 255 + 1e-6  # an exact map's pixel is its weight rounded to 8 bits


def log_epochs(logger, model, epochs=1):
    logger.set_model(model)
    logger.on_train_begin()
    for epoch in range(epochs):
        logger.on_epoch_end(epoch)
    logger.on_train_end()


def assert_figure(image):
    assert image.ndim == 3 and image.shape[-1] == 3 and image.shape[0] > 50  # a rendered RGB figure


def test_logged_self_attention_equals_the_layer_scores(tmp_path, rng):
    model = zoo.build("transformer_classifier_tiny", vocab_size=60, sequence_length=9, num_layers=1, num_heads=2)
    lengths = [9, 5]
    probes = rng.integers(1, 60, size=(2, 9))
    probes[1, 5:] = 0
    tokens = [[f"w{t}" for t in row[:n]] for row, n in zip(probes, lengths)]
    log_epochs(AttentionMapLogger(tmp_path, probes, text_classification_summaries(tokens), "example_0: ..."), model, 2)

    layer = model.get_layer("encoder_0")
    features = keras.Model(model.inputs, layer.input[0] if isinstance(layer.input, list) else layer.input)
    _, scores = layer(features.predict(probes, verbose=0), mask=probes != 0, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)
    np.testing.assert_allclose(scores[1, :, :5].sum(-1), 1.0, atol=1e-5)
    assert np.all(scores[1, :, :, 5:] == 0)  # padding gets no weight, so the map can stop at the real tokens

    images = read_images(tmp_path)
    assert len(images) == 2 * (2 + 1) * 2  # (examples) x (heads + a figure) x (epochs)
    for i, n in enumerate(lengths):
        for head in range(2):
            image = images[f"self_attention/encoder_0/head_{head}/example_{i}", 1]
            assert image.shape == (n, n)  # tokens x tokens
            np.testing.assert_allclose(image, scores[i, head, :n, :n], atol=EXACT)
        assert_figure(images[f"self_attention_figure/encoder_0/example_{i}", 1])
    assert read_texts(tmp_path)["probes", 0] == "example_0: ..."


@pytest.mark.parametrize("attention, options, logged", [
    ("window", {"window": 2}, "self_attention"), ("linformer", {"projected_length": 3}, "projected_attention"),
])
def test_efficient_attention_is_logged_in_its_own_layout(attention, options, logged, tmp_path, rng):
    """A sliding window's compact weights as the tokens x tokens map they stand for; Linformer's weights as tokens x
    projected keys."""
    model = zoo.build(
        "transformer_classifier_tiny", vocab_size=60, sequence_length=9, num_layers=1, num_heads=2, attention=attention,
        attention_options=options,
    )
    probes = rng.integers(1, 60, size=(2, 9))
    probes[1, 5:] = 0
    tokens = [[f"w{t}" for t in row[:n]] for row, n in zip(probes, [9, 5])]
    log_epochs(AttentionMapLogger(tmp_path, probes, text_classification_summaries(tokens)), model)
    _, maps = zoo.attention_maps(model, probes)
    weights = maps["encoder_0"]["window" if attention == "window" else "projected"]
    expected = window_weights_as_matrix(weights) if attention == "window" else weights
    images = read_images(tmp_path)
    for i, n in enumerate([9, 5]):
        for head in range(2):
            image = images[f"{logged}/encoder_0/head_{head}/example_{i}", 0]
            assert image.shape == ((n, n) if attention == "window" else (n, 3))
            np.testing.assert_allclose(image, expected[i, head, :n, : image.shape[1]], atol=EXACT)
        assert_figure(images[f"{logged}_figure/encoder_0/example_{i}", 0])
    if attention == "window":  # outside the window of 2, nothing
        assert np.all(images["self_attention/encoder_0/head_0/example_0", 0][0, 3:] == 0)


def test_attention_pooling_row_per_probe(tmp_path, rng):
    model = zoo.build("bilstm_attention", vocab_size=30, embedding_dim=8, lstm_units=8)
    probes = rng.integers(1, 30, size=(3, 6))
    probes[2, 2:] = 0
    tokens = [["a"] * 6, ["b"] * 6, ["c"] * 2]
    log_epochs(AttentionMapLogger(tmp_path, probes, text_classification_summaries(tokens)), model)
    _, maps = zoo.attention_maps(model, probes)
    images = read_images(tmp_path)
    assert images["attention_pooling/attention_pooling/example_2", 0].shape == (1, 2)
    for i, n in enumerate([6, 6, 2]):
        np.testing.assert_allclose(
            images[f"attention_pooling/attention_pooling/example_{i}", 0][0], maps["attention_pooling"]["pooling"][i, :n], atol=EXACT
        )
        assert_figure(images[f"attention_pooling_figure/attention_pooling/example_{i}", 0])


# ---------------------------------------------------------------- translation

WORDS = "ein mann hund frau a man dog woman runs läuft".split()
TRANSLATION_MODELS = {
    # Learned positions, exactly as many as the recipe's max_length: an unfinished translation must fit them.
    "transformer_tiny": {
        "hidden_dim": 16, "intermediate_dim": 32, "num_heads": 2, "num_layers": 1,
        "position_encoding": "learned", "max_length": 7,
    },
    "seq2seq_bahdanau": {"embedding_dim": 8, "encoder_units": 8, "decoder_units": 16, "attention_units": 8},
}


@pytest.mark.parametrize("name", TRANSLATION_MODELS)
def test_translation_logs_its_own_translation_and_where_it_looked(name, tmp_path, rng):
    vocabulary = [*translation.RESERVED_TOKENS, *WORDS]
    tokenizers = translation.Tokenizers(vocabulary, vocabulary)
    config = translation.Config(model=name, max_length=7, run_dir=str(tmp_path))
    sources = [" ".join(rng.choice(WORDS, size=n)) for n in (5, 2)]
    pairs = translation.datasets.SentencePairs(sources, ["a man", "a dog runs"])
    model = zoo.build(name, source_vocab_size=len(vocabulary), target_vocab_size=len(vocabulary), **TRANSLATION_MODELS[name])
    (logger,) = translation.TASK.attention_loggers(RunDirectory(tmp_path), pairs, tokenizers, config)
    log_epochs(logger, model)

    # The model's own greedy translation, decoded independently of the logger.
    source_ids = tokenizers.source_ids(sources, config.max_length)
    generated = translation.greedy_ids(model, source_ids, tokenizers, config)
    texts = read_texts(tmp_path / "attention")
    images = read_images(tmp_path / "attention")
    for i, (source, reference) in enumerate(zip(sources, pairs.targets)):
        written = list(generated[i]) + [tokenizers.end_id]
        written = written[: min(written.index(tokenizers.end_id), (written + [0]).index(0))]  # up to [END] or [PAD]
        hypothesis = translation.detokenize(tokenizers.target, [written])[0]
        if 0 not in generated[i][: len(written) + 1]:  # no stray [PAD]: the recipe's own greedy translation
            assert hypothesis == translation.translate_ids(model, source_ids[i : i + 1], tokenizers, config)[0]
        assert texts[f"translation/example_{i}", 0] == f"source: {source}\n\nreference: {reference}\n\ntranslation: {hypothesis}"
        target_in = np.array([[tokenizers.start_id, *written]])[:, : config.max_length]  # row t writes token t + 1
        _, maps = zoo.attention_maps(model, {"source_tokens": source_ids[i : i + 1], "target_tokens_in": target_in})
        rows, columns = target_in.shape[1], int(np.count_nonzero(source_ids[i]))
        weights = maps["decoder_0"]["cross"][0] if name == "transformer_tiny" else maps["decoder"]["alignment"][0][None]
        assert np.all(weights[..., columns:] == 0)  # source padding gets no weight: the map can stop at the real tokens
        if name == "transformer_tiny":
            for head in range(2):
                image = images[f"cross_attention/decoder_0/head_{head}/example_{i}", 0]
                assert image.shape == (rows, columns)  # translation tokens ([END] last) x source tokens
                np.testing.assert_allclose(image, weights[head, :, :columns], atol=EXACT)
            assert_figure(images[f"cross_attention_figure/decoder_0/example_{i}", 0])
        else:
            image = images[f"alignment/decoder/example_{i}", 0]
            assert image.shape == (rows, columns)
            np.testing.assert_allclose(image, weights[0, :, :columns], atol=EXACT)
            np.testing.assert_allclose(image.sum(-1), 1.0, atol=columns * EXACT)


# ---------------------------------------------------------------- images


def log_image_model(name, tmp_path, rng, **overrides):
    model = zoo.build(name, input_shape=(16, 16, 1), num_classes=3, **overrides)
    images = rng.integers(0, 256, size=(2, 16, 16, 1)).astype("float32")
    log_epochs(AttentionMapLogger(tmp_path, images, image_summaries(images)), model)
    _, maps = zoo.attention_maps(model, images)
    return images, maps, read_images(tmp_path)


@pytest.mark.parametrize("name", ["se_resnet20", "eca_resnet20"])
def test_channel_weights_per_stage_are_the_blocks_weights(name, tmp_path, rng):
    images, maps, logged = log_image_model(name, tmp_path, rng)
    suffix = name.split("_")[0]
    for stage, channels in ((1, 16), (2, 32), (3, 64)):
        blocks = [maps[f"stage{stage}_block{b}_{suffix}"]["channel"] for b in (1, 2, 3)]
        for i in range(len(images)):
            image = logged[f"channel_attention/stage{stage}/example_{i}", 0]
            assert image.shape == (3, channels)  # blocks x channels
            np.testing.assert_allclose(image, np.stack([block[i] for block in blocks]), atol=EXACT)
            assert_figure(logged[f"channel_attention_figure/stage{stage}/example_{i}", 0])


def test_cbam_spatial_attention_is_drawn_over_the_image(tmp_path, rng):
    images, maps, logged = log_image_model("cbam_resnet20", tmp_path, rng)
    for layer, size in (("stage1_block1_cbam", 16), ("stage3_block3_cbam", 4)):
        spatial = maps[layer]["spatial"]
        assert spatial.shape == (2, size, size)
        for i, image in enumerate(images):
            np.testing.assert_array_equal(
                logged[f"spatial_attention/{layer}/example_{i}", 0] * 255, figures.overlay(image, spatial[i])
            )
    assert ("channel_attention/stage2/example_1", 0) in logged


def test_a_resnets_class_activation_of_the_predicted_class_is_drawn_over_the_image(tmp_path, rng):
    """Over an image of 18 pixels the last stage has 5 x 5 cells, which the overlay stretches unevenly."""
    model = zoo.build("se_resnet20", depth=8, input_shape=(18, 18, 1), num_classes=3)
    images = rng.integers(0, 256, size=(2, 18, 18, 1)).astype("float32")
    log_epochs(AttentionMapLogger(tmp_path, images, image_summaries(images)), model)
    logged = read_images(tmp_path)
    features = keras.Model(model.input, model.get_layer("pool").input).predict(images, verbose=0)
    activation = features @ keras.ops.convert_to_numpy(model.get_layer("logits").kernel)  # (2, 5, 5, 3)
    predicted = np.argmax(model.predict(images, verbose=0), axis=-1)
    for i, image in enumerate(images):
        expected = figures.overlay(image, activation[i, ..., predicted[i]])
        np.testing.assert_allclose(logged[f"class_activation/pool/example_{i}", 0] * 255, expected, atol=1.0)


def test_vit_rollout_from_the_class_token_is_drawn_over_the_image(tmp_path, rng):
    images, maps, logged = log_image_model("vit_small_images", tmp_path, rng, num_layers=2, hidden_dim=32, num_heads=2)
    rollout = zoo.attention_rollout([maps["encoder_0"]["self"], maps["encoder_1"]["self"]])
    for i, image in enumerate(images):
        grid = rollout[i, 0, 1:].reshape(4, 4)  # 16x16 image, 4x4 patches
        np.testing.assert_array_equal(logged[f"attention_rollout/example_{i}", 0] * 255, figures.overlay(image, grid))


def test_patch_grid_follows_the_image_shape():
    np.testing.assert_array_equal(patch_grid(np.arange(8), (16, 32, 3)), np.arange(8).reshape(2, 4))
    with pytest.raises(ValueError, match="7 patches do not tile an image of shape"):
        patch_grid(np.arange(7), (16, 16, 1))
