"""Subcommands, one module each; importing a module registers its command on `lmmr1_cli.cli.app`."""

from lmmr1_cli.commands import prepare  # noqa: F401
from lmmr1_cli.commands import verify  # noqa: F401
from lmmr1_cli.commands import train  # noqa: F401
from lmmr1_cli.commands import eval  # noqa: F401
from lmmr1_cli.commands import export  # noqa: F401
from lmmr1_cli.commands import report  # noqa: F401
