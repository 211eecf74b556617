"""The `lmmr1` command line, and its table of contents: every subcommand is registered below, in pipeline order.

Each subcommand is one thin function in `lmmr1_cli/commands/` that parses, calls the library and renders; command
modules never import this one. Library code raises `Lmmr1Error` for user mistakes; `main` prints those on one line
(no traceback unless `--debug` or LMMR1_DEBUG=1) and exits non-zero.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback

import click
import typer
from typer._click import exceptions as typer_click

# Importing the command modules is cheap: each imports heavy libraries inside its function, after its checks.
from lmmr1_cli import __version__
from lmmr1_cli.commands.doctor import DOCTOR_EPILOG, doctor_command
from lmmr1_cli.commands.eval import EVAL_EPILOG, eval_command
from lmmr1_cli.commands.export import EXPORT_EPILOG, export_command
from lmmr1_cli.commands.mix import MIX_EPILOG, mix_data
from lmmr1_cli.commands.output import err_console
from lmmr1_cli.commands.prepare import PREPARE_EPILOG, prepare_data
from lmmr1_cli.commands.report import REPORT_EPILOG, report_command
from lmmr1_cli.commands.tiny import TINY_EPILOG, tiny_command
from lmmr1_cli.commands.train import FRE_EPILOG, MGT_EPILOG, train_fre, train_mgt
from lmmr1_cli.commands.verify import VERIFY_EPILOG, verify_command
from lmmr1_cli.errors import Lmmr1Error

app = typer.Typer(
    name="lmmr1",
    help="Train small vision-language models to reason with rule-based RL (LMM-R1: FRE then MGT).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": os.environ.get("LMMR1_DEBUG") == "1"}


def _print_version(value: bool) -> None:
    if value:
        print(f"lmmr1 {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the lmmr1 version and exit."
    ),
) -> None:
    if debug:
        _state["debug"] = True


# The commands, in the order `lmmr1 --help` lists them (the pipeline's order, then the tools).
app.command("prepare-data", epilog=PREPARE_EPILOG)(prepare_data)
app.command("mix-data", epilog=MIX_EPILOG)(mix_data)
app.command("train-fre", epilog=FRE_EPILOG)(train_fre)
app.command("train-mgt", epilog=MGT_EPILOG)(train_mgt)
app.command("eval", epilog=EVAL_EPILOG)(eval_command)
app.command("export", epilog=EXPORT_EPILOG)(export_command)
app.command("report", epilog=REPORT_EPILOG)(report_command)
app.command("verify", epilog=VERIFY_EPILOG)(verify_command)
app.command("tiny", epilog=TINY_EPILOG)(tiny_command)
app.command("doctor", epilog=DOCTOR_EPILOG)(doctor_command)


def _quiet_libraries() -> None:
    """Library chatter (weight-loading bars, advisory warnings) drowns the progress bar; --debug keeps it."""
    if _state["debug"] or "--debug" in sys.argv:
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    # datasets logs a parse failure at ERROR level and then raises; the raise becomes our one `error:` line.
    os.environ.setdefault("DATASETS_VERBOSITY", "critical")
    import warnings

    warnings.filterwarnings("ignore")
    _deepspeed_logs_to_stderr()


def _deepspeed_logs_to_stderr() -> None:
    """DeepSpeed (imported by transformers and accelerate whenever it is installed) logs to stdout, so its
    "Setting accelerator to CPU" line lands in every `--json` answer. Its logger is named before DeepSpeed makes
    it: records go to stderr instead (that one CPU line dropped), and the stdout handler it adds never sees any."""
    import logging

    class ToStderr(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            message = record.getMessage()
            if record.levelno >= logging.WARNING and not message.startswith("Setting accelerator to CPU"):
                print(f"DeepSpeed {record.levelname.lower()}: {message}", file=sys.stderr)
            return False

    logging.getLogger("DeepSpeed").addFilter(ToStderr())


def _usage_error_line(exc: Exception) -> str:
    """Click's usage errors print the usage block and a hint over several lines; ours is one line."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {message}{hint}"


def main() -> None:
    """Console-script entry point."""
    _quiet_libraries()
    try:
        code = app(standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except typer_click.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    # Typer >= 0.24 vendors click: its exceptions are not click's, so both are caught.
    except (click.ClickException, typer_click.ClickException) as exc:
        print(_usage_error_line(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort, KeyboardInterrupt):
        err_console.print("[red]interrupted[/red]")
        sys.exit(130)
    except Lmmr1Error as exc:
        if _state["debug"]:
            traceback.print_exc()
        # One line, no rich markup interpretation of the message (it may contain user text with brackets).
        first_line = " ".join(str(exc).split("\n"))
        print(f"error: {first_line}", file=sys.stderr)
        from lmmr1_cli.launch import record_exit_code

        record_exit_code(exc.exit_code, first_line)  # for `relaunch` when this is one of N processes
        sys.exit(exc.exit_code)
    except OSError as exc:
        # A named file the environment refuses (missing, not a dir, exists, no permission, disk full) is the
        # user's to fix; an OSError without a file name is a bug and keeps its traceback.
        # A write to an open file carries no name, but a full or read-only disk is still the environment's.
        environmental = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
        if (exc.filename is None and not environmental) or _state["debug"]:
            raise
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    # Without standalone mode, typer *returns* the code of an Exit raised inside a command instead of raising it,
    # and Ctrl-C inside a command arrives here as a returned 130: both must become the process's exit code.
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == 130:
            err_console.print("[red]interrupted[/red]")
        sys.exit(code)
