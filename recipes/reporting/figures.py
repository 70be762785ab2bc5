"""Figures of attention and of classification results, for notebooks and TensorBoard images.

Every plotting function returns a `matplotlib.figure.Figure` built without
pyplot (no global state, no window): a notebook displays it, and
`figure_pixels` turns it into the RGB array TensorBoard logs.

>>> figure = plot_attention(weights, rows=target_tokens, columns=source_tokens)
>>> pixels = figure_pixels(figure)           # (height, width, 3) uint8
"""

import math

import matplotlib
import numpy as np
from matplotlib import transforms
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

COLORMAP = "viridis"
CELL_INCHES = 0.22  # side of one attention cell, so that a token label fits beside it


def figure_pixels(figure):
    """The rendered figure as a `(height, width, 3)` uint8 RGB array."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_attention(weights, rows=None, columns=None, title=None, panel_titles=None, cell_inches=CELL_INCHES):
    """Heatmaps of attention weights with the tokens on the axes.

    Args:
        weights: `(queries, keys)` for one map, or `(panels, queries, keys)`
            for several side by side (e.g. one per head), on a shared colour
            scale from 0 to the largest weight (diffuse attention, weights near
            1/keys, would be all dark on a 0..1 scale; the colour bar shows the range).
        rows: labels of the queries (e.g. target tokens), or None.
        columns: labels of the keys (e.g. source tokens), or None.
        title: the figure's title.
        panel_titles: one title per panel; default "head 0", "head 1", ...
        cell_inches: the side of one cell (smaller for many keys, e.g. channels).
    """
    weights = np.asarray(weights, "float64")
    weights = weights[None] if weights.ndim == 2 else weights
    if weights.ndim != 3:
        raise ValueError(f"`weights` must be (queries, keys) or (panels, queries, keys); received shape {weights.shape}.")
    panels, queries, keys = weights.shape
    for name, labels, size in (("rows", rows, queries), ("columns", columns, keys)):
        if labels is not None and len(labels) != size:
            raise ValueError(f"`{name}` has {len(labels)} labels for {size} positions.")
    if panel_titles is None:
        panel_titles = [f"head {i}" for i in range(panels)] if panels > 1 else [None]
    grid_columns = min(panels, 4)
    grid_rows = math.ceil(panels / grid_columns)
    # A fixed layout in inches: matplotlib's automatic layouts measure every label again and
    # again, which made a figure of 8 heads x 64 tokens take seconds to draw.
    panel_width, panel_height = keys * cell_inches, queries * max(cell_inches, CELL_INCHES)
    left = _label_inches(rows)
    bottom = _label_inches(columns)
    panel_title = 0.25 if any(panel_titles) else 0.05
    top = (0.45 if title else 0.1) + panel_title
    gap_width, gap_height = 0.15, 0.1 + panel_title
    colorbar = 0.9
    width = left + grid_columns * panel_width + (grid_columns - 1) * gap_width + colorbar
    height = top + grid_rows * panel_height + (grid_rows - 1) * gap_height + bottom
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=left / width, right=1 - colorbar / width, bottom=bottom / height, top=1 - top / height,
        wspace=gap_width / panel_width, hspace=gap_height / panel_height,
    )
    axes = figure.subplots(grid_rows, grid_columns, squeeze=False).ravel()
    largest = max(weights.max(), 1e-6)
    for index, ax in enumerate(axes):
        if index >= panels:
            ax.set_axis_off()
            continue
        image = ax.imshow(weights[index], cmap=COLORMAP, vmin=0.0, vmax=largest, aspect="auto", interpolation="nearest")
        # Token labels on the outer panels only.
        _label_axis(ax, "y", rows if index % grid_columns == 0 else None)
        _label_axis(ax, "x", columns if index >= panels - grid_columns else None)
        if panel_titles[index]:
            ax.set_title(panel_titles[index], fontsize=9)
    colorbar_axes = figure.add_axes(
        [(width - colorbar + 0.15) / width, bottom / height, 0.12 / width, 1 - (top + bottom) / height]
    )
    figure.colorbar(image, cax=colorbar_axes)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def _label_inches(labels):
    """Room for tick labels of 7-point text (about 0.065 inch per character), or a thin margin without labels."""
    return 0.2 + 0.065 * max(len(str(label)) for label in labels) if labels is not None and len(labels) else 0.1


def _label_axis(ax, axis, labels):
    """`labels` (or none) beside the cells of `ax` along `axis` ("x": below, turned upright; "y": on the left).

    Plain texts, not ticks: a tick is five matplotlib objects to make and draw,
    and the tick labels were half the time of a translation's attention figure.
    """
    (ax.set_xticks if axis == "x" else ax.set_yticks)([])
    if labels is None:
        return
    figure = ax.get_figure()
    if axis == "x":  # data x, axes y: just below the panel, at any number of rows
        place = transforms.offset_copy(ax.get_xaxis_transform(), figure, y=-3, units="points")
        layout = {"ha": "center", "va": "top", "rotation": 90}
    else:
        place = transforms.offset_copy(ax.get_yaxis_transform(), figure, x=-3, units="points")
        layout = {"ha": "right", "va": "center"}
    for position, label in enumerate(labels):
        x, y = (position, 0.0) if axis == "x" else (0.0, position)
        ax.text(x, y, str(label), transform=place, fontsize=7, **layout)


def plot_confusion_matrix(counts, class_names, title="Confusion matrix"):
    """Counts (row = true class, column = predicted class), shaded by the row's share, with the numbers."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(class_names):
        raise ValueError(f"`counts` must be (classes, classes) for {len(class_names)} classes; received {counts.shape}.")
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = len(class_names)
    figure = Figure(figsize=(1.5 + 0.55 * size, 1.2 + 0.55 * size), layout="constrained")
    ax = figure.subplots()
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for (true, predicted), count in np.ndenumerate(counts):
        color = "white" if shares[true, predicted] > 0.5 else "black"
        ax.text(predicted, true, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(size), class_names, rotation=90, fontsize=8)
    ax.set_yticks(range(size), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return figure


def overlay(image, heat, scale=4, alpha=0.5):
    """`heat` over `image`: an RGB uint8 array `scale` times the image's size.

    `heat` (a coarser `(h, w)` map, e.g. CBAM's spatial attention or a class
    activation map at a stage's resolution, or the ViT's patch grid) is
    stretched to the image as a strided network's cells cover it, cell k of a side
    the pixels from k s to k s + s - 1 for s = ceil(H / h) (each cell repeated
    where the sides divide; the last cells of a side cut short), min-max scaled to 0..1 and
    coloured with `COLORMAP`; the result is ``(1 - alpha) * image + alpha *
    colour`` (an RGB image in colour, any other in gray, the mean of its
    channels), so the input stays visible under the map.

    Args:
        image: `(H, W)` or `(H, W, C)` raw pixels, 0..255.
        heat: `(h, w)` weights, at most `H x W`.
    """
    image = np.asarray(image, "float64")
    image = image[..., None] if image.ndim == 2 else image
    heat = np.asarray(heat, "float64")
    (height, width), (h, w) = image.shape[:2], heat.shape
    if heat.ndim != 2 or h > height or w > width:
        raise ValueError(f"A heat map {heat.shape} cannot be stretched over an image {image.shape}.")
    rows = np.minimum(np.arange(height) // -(-height // h), h - 1)
    columns = np.minimum(np.arange(width) // -(-width // w), w - 1)
    heat = heat[rows][:, columns]
    span = heat.max() - heat.min()
    heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    colour = matplotlib.colormaps[COLORMAP](heat)[..., :3]
    base = image / 255.0 if image.shape[-1] == 3 else np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1) / 255.0
    blend = (1.0 - alpha) * base + alpha * colour
    blend = np.repeat(np.repeat(blend, scale, axis=0), scale, axis=1)
    return np.round(np.clip(blend, 0.0, 1.0) * 255).astype("uint8")


def plot_series_attention(series, rows, title=None):
    """A time series as lines (one per channel) with the attention over its steps beneath, on the same time axis.

    Args:
        series: `(T, C)` values of one series (its real steps).
        rows: `{label: (T,) weights}`, one heat strip each (e.g. attention pooling's weights, the attention each
            step receives in a Transformer block), each scaled to its own largest weight (pooling weights sum to
            1 over hundreds of steps; a shared scale would show the strongest row alone).
        title: the figure's title.
    """
    series = np.asarray(series, "float64")
    series = series[:, None] if series.ndim == 1 else series
    steps = len(series)
    for label, weights in rows.items():
        if np.shape(weights) != (steps,):
            raise ValueError(f"Row {label!r} has weights of shape {np.shape(weights)} for a series of {steps} steps.")
    figure = Figure(figsize=(8.0, 2.2 + 0.3 * len(rows)), layout="constrained")
    if rows:
        line_ax, heat_ax = figure.subplots(2, 1, sharex=True, height_ratios=[3.0, max(0.6, 0.35 * len(rows))])
    else:
        line_ax, heat_ax = figure.subplots(), None
    for channel in range(series.shape[1]):
        line_ax.plot(np.arange(steps), series[:, channel], linewidth=1.0, label=f"channel {channel}")
    if series.shape[1] > 1:
        line_ax.legend(fontsize=6, ncol=min(series.shape[1], 6), loc="upper right")
    line_ax.set_xlim(-0.5, steps - 0.5)
    if title:
        line_ax.set_title(title, fontsize=9)
    if heat_ax is not None:
        strips = np.stack([np.asarray(w, "float64") / max(float(np.max(w)), 1e-12) for w in rows.values()])
        heat_ax.imshow(strips, aspect="auto", cmap=COLORMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
        heat_ax.set_yticks(range(len(rows)), list(rows), fontsize=7)
        heat_ax.set_xlabel("step")
    return figure
