"""Subcommands, one module each; importing a module registers its command on `lmmr1_cli.cli.app`."""
