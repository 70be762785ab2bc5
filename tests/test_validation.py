"""The shared argument checks: which values each interval admits, and the message of the others."""

import math

import numpy as np
import pytest

from error_messages import raises_mentioning
from layers.validation import check_bool, check_number


@pytest.mark.parametrize(
    "interval, admitted, refused",
    [
        ("(0, 1)", [1e-9, 0.5, 1 - 1e-9, np.float32(0.5)], [0, 1, -0.5, 2]),
        ("[0, 1]", [0, 0.5, 1], [-1e-9, 1 + 1e-9]),
        ("[0, 1)", [0, 0.999], [1, -0.1]),
        ("(0, inf)", [1e-12, 3, 1e30], [0, -1, math.inf]),
        ("[0, inf)", [0, 5], [-1e-12, math.inf]),
    ],
)
def test_check_number_admits_exactly_its_interval(interval, admitted, refused):
    for value in admitted:
        check_number(interval, x=value)
    for value in [*refused, math.nan, "0.5", True, None, [0.5]]:
        with raises_mentioning("`x`", f"a number in {interval}"):
            check_number(interval, x=value)


def test_check_number_names_the_first_bad_argument_and_may_admit_none():
    check_number("(0, inf)", optional=True, a=None, b=2.0)
    with raises_mentioning("`b`", "a number in (0, inf) or None", "-2.0") as error:
        check_number("(0, inf)", optional=True, a=1.0, b=-2.0, c="x")
    assert "`c`" not in str(error.value)


def test_check_bool_admits_only_true_and_false_and_maybe_none():
    check_bool(a=True, b=False)
    check_bool(optional=True, a=None)
    for value in ["False", "no", 0, 1, None, [True]]:
        with raises_mentioning("`a`", "True or False", repr(value)):
            check_bool(a=value)
    with raises_mentioning("`b`", "True, False or None"):
        check_bool(optional=True, a=None, b="False")
