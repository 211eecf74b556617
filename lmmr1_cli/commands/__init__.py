"""Subcommands, one module each; importing a module registers its command on `lmmr1_cli.cli.app`.

Imported in pipeline order, which is the order `lmmr1 --help` lists them in.
"""
# ruff: noqa: I001, F401

from lmmr1_cli.commands import prepare
from lmmr1_cli.commands import train
from lmmr1_cli.commands import eval
from lmmr1_cli.commands import export
from lmmr1_cli.commands import report
from lmmr1_cli.commands import verify
