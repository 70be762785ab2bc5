"""A real TensorBoard server on a log directory, queried through its HTTP data API, as the tests check what users see."""

import contextlib
import json
import time
import urllib.parse
import urllib.request

import tensorflow as tf

from recipes.reporting.tensorboard import start_tensorboard, stop_tensorboard

# What the Keras TensorBoard callback and the throughput meter log for every classification recipe.
CLASSIFICATION_SCALARS = {
    "train": {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_examples_per_second"},
    "validation": {"epoch_loss", "epoch_accuracy"},
}


class TensorBoardClient:
    def __init__(self, url):
        self.url = url

    def get(self, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = urllib.request.Request(self.url + path, data=body and json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def tags(self, plugin, expected, timeout=60.0):
        """`{run: set of tags}` of `plugin` ("scalars", "images", "text") once it holds `expected` `{run: tags}`.

        The server reads the event files in the background, so a first answer may be partial.
        """
        deadline = time.monotonic() + timeout
        while True:
            answer = json.loads(self.get(f"data/plugin/{plugin}/tags"))
            found = {run: set(tags) for run, tags in answer.items()}
            if all(set(tags) <= found.get(run, set()) for run, tags in expected.items()) or time.monotonic() > deadline:
                return found
            time.sleep(1.0)

    def image(self, run, tag):
        """The PNG bytes of the last image of `tag` in `run`."""
        listing = json.loads(self.get("data/plugin/images/images?" + urllib.parse.urlencode({"run": run, "tag": tag})))
        return self.get("data/plugin/images/individualImage?" + listing[-1]["query"])

    def hparams(self):
        """`{name: type}` of the hyperparameters the HParams dashboard shows."""
        experiment = json.loads(self.get("data/plugin/hparams/experiment", {"experimentName": ""}))
        return {info["name"]: info["type"] for info in experiment["hparamInfos"]}


@contextlib.contextmanager
def tensorboard(log_dir):
    """A `TensorBoardClient` of a server on 127.0.0.1 serving `log_dir`, stopped afterwards."""
    process, url = start_tensorboard(log_dir)
    try:
        yield TensorBoardClient(url)
    finally:
        stop_tensorboard(process)


def check_served(log_dir, *, scalars, images, texts, hparams=("model", "epochs")):
    """Asserts a live TensorBoard on `log_dir` serves the `{run: tags}` given, that the images are
    decodable PNGs, and that the HParams dashboard lists `hparams`; returns the image tags by run."""
    with tensorboard(log_dir) as board:
        served = {}
        for plugin, expected in (("scalars", scalars), ("images", images), ("text", texts)):
            served[plugin] = board.tags(plugin, expected)
            for run, tags in expected.items():
                missing = set(tags) - served[plugin].get(run, set())
                assert not missing, f"TensorBoard lacks {plugin} {sorted(missing)} in run {run!r}; it has {served[plugin]}"
        for run, tags in images.items():
            for tag in tags:
                png = board.image(run, tag)
                assert png.startswith(b"\x89PNG"), (run, tag)
                assert tf.io.decode_png(png).shape[0] > 0
        assert set(hparams) <= set(board.hparams())
    return served["images"]
