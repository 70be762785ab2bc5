"""Figures for notebooks and TensorBoard: overlays against a NumPy reference, labeled plots' shapes and errors."""

import matplotlib
import numpy as np
import pytest

from recipes.reporting import figures


def test_overlay_blends_the_stretched_min_max_scaled_map_over_the_gray_image(rng):
    image = rng.integers(0, 256, size=(8, 12, 1)).astype("float64")
    heat = rng.random((2, 3))
    blend = figures.overlay(image, heat, scale=2, alpha=0.3)
    assert blend.shape == (16, 24, 3) and blend.dtype == np.uint8
    scaled = (heat - heat.min()) / (heat.max() - heat.min())
    colours = matplotlib.colormaps[figures.COLORMAP](scaled)[..., :3]
    for y, x in ((0, 0), (5, 7), (7, 11), (3, 9)):
        cell = colours[y // 4, x // 4]  # each map cell covers 4x4 image pixels
        expected = 0.7 * image[y, x, 0] / 255 + 0.3 * cell
        for dy in range(2):
            for dx in range(2):  # each image pixel becomes a scale x scale block
                np.testing.assert_allclose(blend[2 * y + dy, 2 * x + dx] / 255, expected, atol=0.5 / 255 + 1e-9)


def test_overlay_keeps_colour_images_and_a_flat_map():
    image = np.zeros((4, 4, 3))
    image[..., 0] = 255
    blend = figures.overlay(image, np.full((2, 2), 0.25), scale=1, alpha=0.5)
    flat = np.round(255 * (0.5 * np.array([1.0, 0, 0]) + 0.5 * np.array(matplotlib.colormaps[figures.COLORMAP](0.0)[:3])))
    np.testing.assert_array_equal(blend, np.broadcast_to(flat, (4, 4, 3)))


def test_overlay_stretches_a_map_whose_sides_do_not_divide_the_image_as_strided_cells_cover_it(rng):
    """A stage of stride 4 over an image of 30 pixels has ceil(30 / 4) = 8 cells: cell k covers pixels 4k to 4k + 3,
    the last one pixels 28 and 29."""
    heat = rng.random((8, 8))
    blend = figures.overlay(np.zeros((30, 30)), heat, scale=1, alpha=1.0)
    scaled = (heat - heat.min()) / (heat.max() - heat.min())
    colours = np.round(matplotlib.colormaps[figures.COLORMAP](scaled)[..., :3] * 255)
    for y, x in ((0, 0), (3, 4), (4, 3), (29, 29), (15, 27), (11, 12)):
        np.testing.assert_array_equal(blend[y, x], colours[y // 4, x // 4])


def test_overlay_refuses_a_map_finer_than_the_image():
    with pytest.raises(ValueError, match=r"A heat map \(9, 3\) cannot be stretched over an image \(8, 8, 1\)"):
        figures.overlay(np.zeros((8, 8)), np.zeros((9, 3)))


def test_attention_figure_has_a_panel_per_head_and_checks_its_labels(rng):
    weights = rng.dirichlet(np.ones(5), size=(3, 4))  # 3 heads, 4 queries, 5 keys
    figure = figures.plot_attention(weights, rows=list("abcd"), columns=list("vwxyz"), title="t")
    panels = [ax for ax in figure.axes if ax.images]
    assert len(panels) == 3 and [ax.get_title() for ax in panels] == ["head 0", "head 1", "head 2"]
    np.testing.assert_array_equal(panels[1].images[0].get_array(), weights[1])
    assert [label.get_text() for label in panels[0].texts] == list("abcdvwxyz")  # the first panel's rows and columns
    assert [label.get_text() for label in panels[1].texts] == list("vwxyz")
    pixels = figures.figure_pixels(figure)
    assert pixels.ndim == 3 and pixels.shape[-1] == 3 and pixels.dtype == np.uint8
    with pytest.raises(ValueError, match="`rows` has 3 labels for 4 positions"):
        figures.plot_attention(weights, rows=list("abc"))
    with pytest.raises(ValueError, match=r"received shape \(5,\)"):
        figures.plot_attention(np.ones(5))


def test_confusion_matrix_figure_writes_every_count():
    counts = np.array([[5, 1], [2, 7]])
    figure = figures.plot_confusion_matrix(counts, ["cat", "dog"])
    assert sorted(text.get_text() for text in figure.axes[0].texts) == ["1", "2", "5", "7"]
    with pytest.raises(ValueError, match="for 3 classes"):
        figures.plot_confusion_matrix(counts, ["a", "b", "c"])
