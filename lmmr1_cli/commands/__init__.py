"""Subcommands, one module each: parse options, call one library function, render the result.

`lmmr1_cli/cli.py` registers them on the app; shared options live in `options.py`, the consoles in `output.py`,
the progress bar in `progress.py`.
"""
