"""Shared fixtures: fresh random data every run, with the seed printed for replay."""

import os
import secrets

import numpy as np
import pytest
from hypothesis import settings

from shared_runs import FinishedRuns

DATA_DIR = os.environ.get("ZOO_DATA_DIR")

# Hypothesis profiles of the property tests (test_masking_properties.py); pick one with --hypothesis-profile.
# "full", the default: 15 examples a test. No deadline: an example's first call builds the layer, and the
# first call of each new shape is traced, so times vary far more than Hypothesis' deadline allows.
settings.register_profile("full", max_examples=15, deadline=None)
# "jax", for the JAX rerun (test_jax_backend.py). The properties (padding never leaks, causal outputs never
# look ahead, float16 stays near float32) are about the layers' keras.ops code, which the TensorFlow run
# explores with the full profile. On JAX every new input shape compiles every op again (seconds an example);
# a few examples a test show that JAX's ops give the same masking, without paying for 15 shapes a test again.
settings.register_profile("jax", parent=settings.get_profile("full"), max_examples=2)
settings.load_profile("full")


def pytest_configure(config):
    # xdist's --dist loadfile hands out the biggest files first unless told otherwise, which left the JAX rerun
    # (one file of two tests, but the longest) to the end; keep the order of pytest_collection_modifyitems.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    config.addinivalue_line(
        "markers",
        "backend_independent: checks only Python-side work (argument validation, error messages, the registry,"
        " configs), the same on every Keras backend; the JAX rerun (test_jax_backend.py) leaves it out.",
    )
    config.addinivalue_line(
        "markers",
        "covered_on_jax: a zoo round trip of a builder whose round trip another model keeps on JAX"
        " (test_zoo.COVERED_ON_JAX); the JAX rerun leaves it out.",
    )


def pytest_collection_modifyitems(items):
    """The JAX rerun first: it is one test of several minutes (a pytest subprocess). Under `-n 2 --dist loadfile`
    (without reordering, see pytest_configure) xdist hands out the files in this order, so one process runs it
    while the other runs the other files, instead of it starting after most of them and running alone at the end."""
    items.sort(key=lambda item: item.path.name != "test_jax_backend.py")


@pytest.fixture
def rng():
    """A generator with a new seed each run; set ZOO_TEST_SEED to replay a failure."""
    seed = int(os.environ.get("ZOO_TEST_SEED", secrets.randbits(32)))
    print(f"ZOO_TEST_SEED={seed}")
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def data_dir():
    """`$ZOO_DATA_DIR`, which the recipe tests need (real SST-2)."""
    if not DATA_DIR or not os.path.isdir(os.path.join(DATA_DIR, "sst2")):
        pytest.fail("Set ZOO_DATA_DIR to a directory laid out like shared/datasets (it needs sst2/).")
    return DATA_DIR


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory, data_dir):
    """Runs trained once per session (tests/shared_runs.py), in a directory both xdist processes share."""
    base = tmp_path_factory.getbasetemp()
    return FinishedRuns((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "finished_runs")
