"""The small reference checkpoints in tests/checkpoints (written by make_references.py with timm and torchvision)."""

import json
from pathlib import Path

import zoo

SMALL = Path(__file__).parent / "checkpoints"
SMALL_MANIFEST = {entry["key"]: entry for entry in json.loads((SMALL / "references.json").read_text())}


def overrides(entry):
    """The zoo build arguments of a manifest entry (JSON lists as tuples)."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in entry["overrides"].items()}


def build(key, **changes):
    """The zoo model of the small reference `key` with its checkpoint loaded (`changes`: build arguments)."""
    entry = SMALL_MANIFEST[key]
    return zoo.build(entry["zoo"], weights=changes.pop("weights", SMALL / entry["checkpoint"]), **(overrides(entry) | changes))
