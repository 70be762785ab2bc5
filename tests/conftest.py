"""Shared fixtures: fresh random data every run, with the seed printed for replay."""

import os
import secrets

import numpy as np
import pytest

DATA_DIR = os.environ.get("ZOO_DATA_DIR")


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

