"""YAML as people write numbers: `3e-4` and `1e6` are floats, as in YAML 1.2, JSON and Python.

PyYAML implements YAML 1.1, whose float pattern needs a dot (`3.0e-4`), so `learning_rate: 3e-4` loads as the string
'3e-4' and a config check then refuses it. Every YAML a user writes (`--config`, data recipes, key=value overrides)
is read through `load_yaml`, so a number means the same in each place.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class _NumberLoader(yaml.SafeLoader):
    """SafeLoader plus YAML 1.2's exponent floats without a dot (`1e6`, `-3E-4`)."""


# Tried after SafeLoader's own resolvers (ints, dotted floats), so it only adds the dot-less exponent spelling.
_NumberLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """`yaml.safe_load` with YAML 1.2 exponent floats; raises yaml.YAMLError like it.

    >>> load_yaml("lr: 3e-4\\npixels: 1e6\\nname: 1e")
    {'lr': 0.0003, 'pixels': 1000000.0, 'name': '1e'}
    """
    # What yaml.load does, spelled out so that no generic-loader call exists in the package (test_hostile scans for
    # them); _NumberLoader constructs only safe types, like SafeLoader.
    loader = _NumberLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
