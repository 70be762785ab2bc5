"""How a run trains and is kept: the run directory (`run`), `fit` and its callbacks (`callbacks`),
optimizers and schedules (`optimization`)."""
