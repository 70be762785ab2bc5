"""`zoo inspect RUN_DIR`: where a run's TensorBoard logs are, and a TensorBoard server on them.

    RUN_DIR/            HParams (the run's configuration)
      train/            loss, accuracy, learning rate, throughput, weight histograms
      validation/       validation metrics (BLEU for translation)
      attention/        attention maps of the probe examples, every epoch
      test/             confusion matrix of the test split (classification)

>>> process, url = start_tensorboard("runs/sst2")   # a free port on 127.0.0.1
>>> stop_tensorboard(process)
"""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from recipes.training.run import RunError


class TensorBoardError(RuntimeError):
    """The TensorBoard server could not be started."""

LOG_DIRECTORIES = {
    ".": "the run's configuration (HParams dashboard)",
    "train": "training loss and metrics, learning rate, throughput, weight histograms",
    "validation": "validation metrics",
    "attention": "attention maps of the probe examples, every epoch",
    "test": "confusion matrix of the test split",
}


def log_directories(run_dir):
    """`{path: what it holds}` for the TensorBoard logs of `run_dir` (or of all runs under it) that exist."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"No run directory {run_dir}.")
    found = {}
    for events in sorted(run_dir.rglob("events.out.tfevents.*")):
        directory = events.parent
        is_run = (directory / "config.json").exists()
        found[directory] = LOG_DIRECTORIES["."] if is_run else LOG_DIRECTORIES.get(directory.name, "logs")
    if not found:
        raise RunError(f"{run_dir} holds no TensorBoard logs (events.out.tfevents.* files); train a run into it first.")
    return found


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_tensorboard(log_dir, port=None, timeout=120.0):
    """Starts `tensorboard --logdir log_dir` on 127.0.0.1 and waits until it answers.

    Returns:
        `(process, url)`; stop the server with `stop_tensorboard(process)`.
    """
    log_directories(log_dir)  # a clear error rather than an empty dashboard
    port = port or free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(log_dir), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TensorBoardError(f"TensorBoard exited with code {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "data/logdir", timeout=5):
                return process, url
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    stop_tensorboard(process)
    raise TensorBoardError(f"TensorBoard did not answer at {url} within {timeout:.0f} s.")


def stop_tensorboard(process, grace=10.0):
    """Asks TensorBoard to exit (SIGTERM), and kills it if it has not within `grace` seconds.

    TensorBoard exits from a Python signal handler, which waits for the interpreter: while its
    reloader thread is busy (importing TensorFlow, reading event files) that can take tens of seconds.
    """
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def inspect(run_dir, port=None):
    """Prints the run's log directories, serves them with TensorBoard until Ctrl-C."""
    for directory, content in log_directories(run_dir).items():
        print(f"{directory}: {content}")
    process, url = start_tensorboard(run_dir, port)
    try:
        # Printed inside the `try`: a Ctrl-C as soon as the address shows (before `wait`) stops the server too,
        # instead of escaping as a KeyboardInterrupt (CI once sent it in that gap, and the command died of SIGINT).
        print(f"TensorBoard: {url}  (Ctrl-C stops it)", flush=True)
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_tensorboard(process)
