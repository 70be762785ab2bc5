"""Argument checks shared by constructors: one message per kind of mistake."""

import numbers

import keras
import numpy as np


def is_int(value):
    """Whether `value` is an integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    """Whether `value` is a real number (not a bool, a string or None)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive_int(optional=False, **values):
    """Raises `ValueError` naming the first argument that is not a positive integer.

    With `optional=True`, `None` is allowed too.
    """
    for name, value in values.items():
        if optional and value is None:
            continue
        if not is_int(value) or value < 1:
            allowed = "a positive integer or None" if optional else "a positive integer"
            raise ValueError(f"`{name}` must be {allowed}; received {name}={value!r}.")


def check_int_at_least(minimum, reason="", **values):
    """Raises `ValueError` naming the first argument that is not an integer >= `minimum`; `reason` says why."""
    for name, value in values.items():
        if not is_int(value) or value < minimum:
            raise ValueError(f"`{name}` must be an integer of at least {minimum}{reason}; received {name}={value!r}.")


def check_bool(optional=False, **values):
    """Raises `ValueError` naming the first argument that is not True or False (or None, with `optional=True`)."""
    for name, value in values.items():
        if not (isinstance(value, bool) or (optional and value is None)):
            allowed = "True, False or None" if optional else "True or False"
            raise ValueError(f"`{name}` must be {allowed}; received {name}={value!r}.")


def check_heads_divide(hidden_dim, num_heads):
    """Raises `ValueError` unless `num_heads` divides `hidden_dim`: each head attends in `hidden_dim / num_heads`
    dimensions (Vaswani et al., 2017, Section 3.2.2). The message lists the divisors up to 64.

    For model builders, in their argument names, before any layer is made: a builder call gets this message
    only. The Transformer blocks check their input width themselves, for direct users, who may pass `key_dim`.
    """
    if hidden_dim % num_heads:
        divisors = [n for n in range(1, min(hidden_dim, 64) + 1) if hidden_dim % n == 0]
        raise ValueError(
            f"`num_heads` must divide `hidden_dim` (each head gets hidden_dim / num_heads dimensions); received "
            f"hidden_dim={hidden_dim}, num_heads={num_heads}. num_heads dividing {hidden_dim}: {divisors}."
        )


def check_non_negative_int(optional=False, **values):
    """Raises `ValueError` naming the first argument that is not an integer >= 0 (or None, with `optional=True`)."""
    for name, value in values.items():
        if optional and value is None:
            continue
        if not is_int(value) or value < 0:
            allowed = "a non-negative integer" + (" or None" if optional else "")
            raise ValueError(f"`{name}` must be {allowed}; received {name}={value!r}.")


def check_number(interval, optional=False, **values):
    """Raises `ValueError` naming the first argument that is not a real number in `interval`.

    `interval` is written as in mathematics: `"(0, 1)"`, `"[0, 1]"`, `"(0, inf)"`...
    With `optional=True`, `None` is allowed too.
    """
    low, high = (float(bound) for bound in interval[1:-1].split(","))
    for name, value in values.items():
        if optional and value is None:
            continue
        above_low = is_number(value) and (low <= value if interval[0] == "[" else low < value)
        if not (above_low and (value <= high if interval[-1] == "]" else value < high)):
            allowed = f"a number in {interval}" + (" or None" if optional else "")
            raise ValueError(f"`{name}` must be {allowed}; received {name}={value!r}.")


def check_rate(**values):
    """Raises `ValueError` naming the first argument outside [0, 1)."""
    check_number("[0, 1)", **values)


def check_choice(choices, optional=False, **values):
    """Raises `ValueError` naming the first argument that is not one of `choices` (or None, with `optional=True`)."""
    for name, value in values.items():
        if not (value in choices or (optional and value is None)):
            allowed = f"one of {list(choices)}" + (" or None" if optional else "")
            raise ValueError(f"`{name}` must be {allowed}; received {name}={value!r}.")


def check_int(**values):
    """Raises `ValueError` naming the first argument that is not an integer."""
    for name, value in values.items():
        if not is_int(value):
            raise ValueError(f"`{name}` must be an integer; received {name}={value!r}.")


def check_text(optional=False, **values):
    """Raises `ValueError` naming the first argument that is not a non-empty string (or None, with `optional=True`)."""
    for name, value in values.items():
        if not ((isinstance(value, str) and value) or (optional and value is None)):
            allowed = "a non-empty text" + (" or None" if optional else "")
            raise ValueError(f"`{name}` must be {allowed}; received {name}={value!r}.")


def values_known_now(tensor):
    """Whether `tensor` holds numbers at this call (eager), not a trace inside a compiled function."""
    if keras.backend.backend() == "jax":
        import jax

        return not isinstance(tensor, jax.core.Tracer)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly()
    return True


def check_token_ids(token_ids, vocabulary_size, layer_name):
    """Raises `ValueError` naming the first token id outside `[0, vocabulary_size)`.

    Runs where the ids are known (an eager call); inside a compiled function
    there is nothing to read, and the layer marks such ids with NaN instead.
    """
    if not values_known_now(token_ids):
        return
    ids = keras.ops.convert_to_numpy(token_ids)
    outside = (ids < 0) | (ids >= vocabulary_size)
    if outside.any():
        position = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(
            f"Layer {layer_name!r} received token id {int(ids[position])} at position {position}; "
            f"ids must lie in [0, {vocabulary_size}) (its vocabulary has {vocabulary_size} entries). "
            f"{int(outside.sum())} of {ids.size} ids are outside. Were these ids made with another vocabulary?"
        )
