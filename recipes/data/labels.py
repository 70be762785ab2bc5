"""Class names from a training split's labels, and labels as class indices: one rule for the classification recipes."""

import numpy as np

from recipes.data.sources import DataError


def class_names_of(labels, source="The training labels", hint=""):
    """The distinct labels as sorted class names: by value when every label is a number (so "10" follows "9",
    "-1" precedes "1"), else alphabetically. Fewer than two classes: `DataError` naming `source` (and `hint`)."""
    names = sorted({str(label) for label in labels})
    if len(names) < 2:
        raise DataError(f"{source} hold {len(names)} class(es), {names}; a classifier needs at least two{hint}.")
    try:
        return sorted(names, key=float)
    except ValueError:
        return names


def label_ids(labels, class_names, source):
    """`labels` as indices into `class_names` (int64); a label outside them (one the training split lacks) is a
    `DataError` naming `source`."""
    index = {name: k for k, name in enumerate(class_names)}
    unknown = sorted({str(label) for label in labels} - set(index))
    if unknown:
        raise DataError(f"{source}: labels {unknown} are not among the training labels {class_names}.")
    return np.array([index[str(label)] for label in labels], "int64")
