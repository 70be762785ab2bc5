"""Attention heatmaps in TensorBoard: the logged images are the model's attention weights."""

import keras
import numpy as np
from event_files import read_images

import zoo
from recipes.attention_logging import AttentionMapLogger, text_classification_heatmaps


def test_logged_self_attention_equals_the_layer_scores(tmp_path, rng):
    model = zoo.build("transformer_classifier_tiny", vocab_size=60, sequence_length=9, num_layers=1, num_heads=2)
    lengths = [9, 5]
    probes = rng.integers(1, 60, size=(2, 9))
    probes[1, 5:] = 0
    logger = AttentionMapLogger(tmp_path, probes, text_classification_heatmaps(lengths), "example_0: ...")
    logger.set_model(model)
    logger.on_train_begin()
    for epoch in (0, 1):
        logger.on_epoch_end(epoch)
    logger.on_train_end()

    layer = model.get_layer("encoder_0")
    features = keras.Model(model.inputs, layer.input[0] if isinstance(layer.input, list) else layer.input)
    _, scores = layer(features.predict(probes, verbose=0), mask=probes != 0, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)
    np.testing.assert_allclose(scores[1, :, :5].sum(-1), 1.0, atol=1e-5)
    assert np.all(scores[1, :, :, 5:] == 0)  # padding gets no weight, so the map can stop at the real tokens

    images = read_images(tmp_path)
    assert len(images) == 2 * 2 * 2  # (examples) x (heads) x (epochs)
    for i, n in enumerate(lengths):
        for head in range(2):
            image = images[f"self_attention/encoder_0/head_{head}/example_{i}", 1]
            assert image.shape == (n, n)  # tokens x tokens
            np.testing.assert_allclose(image, scores[i, head, :n, :n], atol=0.5 / 255 + 1e-6)


def test_attention_pooling_row_per_probe(tmp_path, rng):
    model = zoo.build("bilstm_attention", vocab_size=30, embedding_dim=8, lstm_units=8)
    probes = rng.integers(1, 30, size=(3, 6))
    probes[2, 2:] = 0
    logger = AttentionMapLogger(tmp_path, probes, text_classification_heatmaps([6, 6, 2]))
    logger.set_model(model)
    logger.on_train_begin()
    logger.on_epoch_end(0)
    logger.on_train_end()
    _, maps = zoo.attention_maps(model, probes)
    images = read_images(tmp_path)
    assert images["attention_pooling/attention_pooling/example_2", 0].shape == (1, 2)
    for i, n in enumerate([6, 6, 2]):
        np.testing.assert_allclose(
            images[f"attention_pooling/attention_pooling/example_{i}", 0][0], maps["attention_pooling"][i, :n], atol=0.5 / 255 + 1e-6
        )
