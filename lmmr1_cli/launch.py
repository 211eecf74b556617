"""The command lines a cluster job runs: `accelerate launch` around `python -m lmmr1_cli train-*`."""

from __future__ import annotations

import shlex
from importlib import resources
from pathlib import Path

from lmmr1_cli.errors import ConfigError

LAUNCH_CONFIG_NAMES = ("zero2", "zero3", "fsdp", "ddp")
# Options that only shape the launch itself; the per-process command must not see them again.
LAUNCH_ONLY_OPTIONS = {"--num-processes": 1, "--accelerate-config": 1, "--dry-run": 0, "--launch": 0}


def accelerate_config_path(name_or_path: str) -> Path:
    """A shipped accelerate config (zero2, zero3, fsdp, ddp) or a user's YAML file."""
    if name_or_path in LAUNCH_CONFIG_NAMES:
        return Path(str(resources.files("lmmr1_cli") / "launch_configs" / f"{name_or_path}.yaml"))
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"--accelerate-config: '{name_or_path}' is neither a file nor one of {', '.join(LAUNCH_CONFIG_NAMES)}"
        )
    return path


def strip_launch_options(argv: list[str]) -> list[str]:
    out, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in LAUNCH_ONLY_OPTIONS:
            skip = LAUNCH_ONLY_OPTIONS[name] if "=" not in arg else 0
            continue
        out.append(arg)
    return out


def accelerate_command(
    subcommand_argv: list[str], num_processes: int, accelerate_config: str | None, use_cpu: bool = False
) -> list[str]:
    """`accelerate launch ... -m lmmr1_cli <subcommand> ...` as an argv list.

    On CPU, `--multi_gpu` with gloo is what really starts several processes (`--cpu --num_processes 2`
    silently runs one; measured in shared/DESIGN.md).
    """
    cmd = ["accelerate", "launch"]
    if accelerate_config:
        cmd += ["--config_file", str(accelerate_config_path(accelerate_config))]
    if num_processes > 1:
        cmd += ["--multi_gpu"] if not accelerate_config else []
        cmd += ["--num_processes", str(num_processes)]
    else:
        cmd += ["--num_processes", "1"]
    cmd += ["--num_machines", "1"] if not accelerate_config else []
    cmd += ["-m", "lmmr1_cli", *strip_launch_options(subcommand_argv)]
    return cmd


def render(cmd: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in cmd)
