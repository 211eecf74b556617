"""run.json: where a run came from (recipe, resolved config, init model, data hashes, versions, git revision)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from lmmr1_cli.atomic import write_json_atomic
from lmmr1_cli.config import TrainConfig, config_to_dict
from lmmr1_cli.rundir import LINEAGE_FILE

PACKAGES = ["lmmr1", "torch", "transformers", "trl", "datasets", "accelerate", "peft", "math-verify", "vllm"]


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    """The lmmr1 checkout's revision (None when installed from a wheel)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def data_manifest_hash(data_dir: Path) -> str | None:
    manifest = Path(data_dir) / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        return json.loads(manifest.read_text()).get("content_hash")
    except (json.JSONDecodeError, AttributeError):
        return None


def parent_lineage(resolved_init: str) -> dict | None:
    """run.json of the run an init model came from (final/ or checkpoints/checkpoint-N inside a run dir)."""
    path = Path(resolved_init)
    for candidate in (path.parent / LINEAGE_FILE, path.parent.parent / LINEAGE_FILE):
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return None


def write_lineage(
    run_dir: Path, config: TrainConfig, data_dir: Path, init_model: str, resolved_init: str
) -> dict:
    lineage = {
        "recipe": config.recipe,
        "stage": config.stage,
        "config": config_to_dict(config),
        "init_model": init_model,
        "resolved_init": resolved_init,
        "parent": parent_lineage(resolved_init),
        "data": {"dir": str(Path(data_dir).resolve()), "manifest_hash": data_manifest_hash(data_dir)},
        "versions": package_versions(),
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "command": sys.argv,
    }
    write_json_atomic(Path(run_dir) / LINEAGE_FILE, lineage)
    return lineage
