"""Reading TensorBoard event files directly, as the tests check what the recipes logged."""

from pathlib import Path

import tensorflow as tf


def read_images(log_dir):
    """`{(tag, step): image}` of the image summaries in `log_dir`, decoded from their PNGs to [0, 1] (first channel)."""
    images = {}
    for path in Path(log_dir).glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    png = tf.make_ndarray(value.tensor)[2]
                    images[value.tag, event.step] = tf.io.decode_png(png).numpy()[..., 0] / 255.0
    return images
