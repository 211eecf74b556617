"""run.json: where a run came from (recipe, resolved config, init model, data hashes, versions, git revision).

A resumed run is one more *segment*: `segments` lists each one (the step it started at, its config, command and
versions), so a run resumed with an allowed change still says what its earlier steps were trained with. The
top-level fields stay those of the first segment. `check_resume` refuses a resume whose config, data or init model
differs from the last segment's, except for the keys in RESUME_SAFE_KEYS when the user allows them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from lmmr1_cli.atomic import write_json_atomic
from lmmr1_cli.config import EvalConfig, TrainConfig, config_to_dict
from lmmr1_cli.errors import ConfigError, DataError
from lmmr1_cli.rundir import LINEAGE_FILE

# What `--resume --allow-config-change` may change: how long the run goes, how often it saves and logs, where
# rollouts are generated and how long a verification may take. Not what the earlier steps trained on (model,
# data, batch shape, algorithm, optimizer, rewards, seed): a change there is a new run (`-o NEW --init RUN`).
RESUME_SAFE_KEYS = (
    "description",
    "run.max_steps",
    "run.save_every_rollouts",
    "run.save_total_limit",
    "run.logging_steps",
    "run.report_to",
    "rollout.use_vllm",
    "rollout.vllm_mode",
    "rollout.vllm_gpu_memory_utilization",
    "rollout.vllm_enable_sleep_mode",
    "rollout.vllm_server_host",
    "rollout.vllm_server_port",
    "rollout.vllm_tensor_parallel_size",
    "rewards.verify_timeout",
    # Validation during training (validation.py) reads the model and trains nothing.
    *(f"eval.{f.name}" for f in dataclasses.fields(EvalConfig)),
)
# Set from the machine (the CPU fallback), not by the user; each segment records its own.
RESUME_IGNORED_KEYS = ("run.use_cpu",)

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


def read_lineage(run_dir: Path) -> dict | None:
    """A run's run.json (None when it has none); unreadable JSON is a DataError naming the file."""
    path = Path(run_dir) / LINEAGE_FILE
    if not path.is_file():
        return None
    try:
        lineage = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(lineage, dict):
        raise DataError(f"{path}: expected a JSON object")
    return lineage


def _vllm_fault() -> dict[str, str]:
    """A segment run with LMMR1_VLLM_FAULT (a vLLM fix undone on purpose, vllm_engine.py) says so."""
    from lmmr1_cli.vllm_engine import FAULT_ENV

    return {"vllm_fault": os.environ[FAULT_ENV]} if os.environ.get(FAULT_ENV) else {}


def _segment(config: TrainConfig, start_step: int, changed: dict | None = None) -> dict[str, Any]:
    return {
        "start_step": start_step,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": config_to_dict(config),
        **({"changed": changed} if changed else {}),
        **_vllm_fault(),
        "command": sys.argv,
        "versions": package_versions(),
        "git_revision": git_revision(),
    }


def tiny_model_record(resolved_init: str) -> dict | None:
    """The shipped tiny model's version and sha256 when a run starts from it (None for any other model): its
    weights are data, and a rebuild on another CPU is another model (lmmr1_cli/tiny.py)."""
    from lmmr1_cli.tiny import SHIPPED_DIR, TINY_VERSION, build_sha256

    path = Path(resolved_init)
    if not path.is_dir() or path.resolve() != SHIPPED_DIR.resolve():
        return None
    return {"tiny_version": TINY_VERSION, "sha256": build_sha256(path)}


def write_lineage(
    run_dir: Path, config: TrainConfig, data_dir: Path, init_model: str, resolved_init: str
) -> dict:
    """run.json of a new run (its first segment)."""
    lineage = {
        "recipe": config.recipe,
        "stage": config.stage,
        "config": config_to_dict(config),
        "init_model": init_model,
        "resolved_init": resolved_init,
        "init_tiny_model": tiny_model_record(resolved_init),
        "parent": parent_lineage(resolved_init),
        "data": {"dir": str(Path(data_dir).resolve()), "manifest_hash": data_manifest_hash(data_dir)},
        "versions": package_versions(),
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "command": sys.argv,
        "segments": [_segment(config, 0)],
    }
    write_json_atomic(Path(run_dir) / LINEAGE_FILE, lineage)
    return lineage


def append_segment(run_dir: Path, config: TrainConfig, start_step: int, changed: dict | None = None) -> dict:
    """Record a resumed segment in run.json; earlier segments and the top-level fields are kept as they were."""
    lineage = read_lineage(run_dir) or {}
    segments = lineage.get("segments") or [_legacy_segment(lineage)]
    lineage["segments"] = [*segments, _segment(config, start_step, changed)]
    write_json_atomic(Path(run_dir) / LINEAGE_FILE, lineage)
    return lineage


def _legacy_segment(lineage: dict) -> dict:
    """The first segment of a run.json written before segments were recorded."""
    return {"start_step": 0, "config": lineage.get("config"), "command": lineage.get("command")}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def _same_model(recorded: Any, now: Any) -> bool:
    if recorded == now:
        return True
    a, b = Path(str(recorded)).expanduser(), Path(str(now)).expanduser()
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def resume_differences(lineage: dict, config: TrainConfig, data_dir: Path) -> list[tuple[str, Any, Any]]:
    """(key, recorded, now) for each way this resume differs from the run's last segment, most telling first:
    recipe and stage, the init model, the data, then config keys in config order."""
    segments = lineage.get("segments") or [_legacy_segment(lineage)]
    recorded = _flatten(segments[-1].get("config") or {})
    now = _flatten(config_to_dict(config))
    diffs: list[tuple[str, Any, Any]] = []
    for key in ("recipe", "stage"):
        if key in recorded and recorded[key] != now[key]:
            diffs.append((key, recorded[key], now[key]))
    model_key = "model.name_or_path"
    if model_key in recorded and not _same_model(recorded[model_key], now[model_key]):
        diffs.append((model_key, recorded[model_key], now[model_key]))
    data = lineage.get("data") or {}
    data_hash = data_manifest_hash(data_dir)
    if data.get("manifest_hash") and data_hash:
        if data["manifest_hash"] != data_hash:
            diffs.append(
                (
                    "data",
                    f"{data.get('dir')} (hash {data['manifest_hash'][:12]})",
                    f"{data_dir} (hash {data_hash[:12]})",
                )
            )
    elif data.get("dir") and data["dir"] != str(Path(data_dir).resolve()):
        diffs.append(("data", data["dir"], str(Path(data_dir).resolve())))
    skip = {"recipe", "stage", model_key, *RESUME_IGNORED_KEYS}
    for key, value in now.items():
        if key not in skip and key in recorded and recorded[key] != value:
            diffs.append((key, recorded[key], value))
    return diffs


def _new_run_from(stage: str, run_dir: Path) -> str:
    """The options that start a new run from `run_dir`'s model: train-mgt names its start with --init,
    train-fre with --model."""
    option = "--init" if stage == "mgt" else "--model"
    return f"-o NEW {option} {run_dir}"


def check_resume(
    run_dir: Path, config: TrainConfig, data_dir: Path, allow_config_change: bool = False
) -> dict:
    """Refuse a resume that differs from the run's record, naming the first difference; returns the allowed
    changes ({key: [recorded, now]}, empty when nothing changed). A run without run.json is not checked."""
    lineage = read_lineage(run_dir)
    if lineage is None:
        return {}
    diffs = resume_differences(lineage, config, data_dir)
    where = Path(run_dir) / LINEAGE_FILE
    for key, recorded, now in diffs:
        if key not in RESUME_SAFE_KEYS:
            raise ConfigError(
                f"--resume: {key} is {now!r} but the run was trained with {recorded!r} ({where}); resume with "
                f"the recorded value, or start a new run from this one ({_new_run_from(config.stage, run_dir)})"
            )
    if diffs and not allow_config_change:
        key, recorded, now = diffs[0]
        raise ConfigError(
            f"--resume: {key} is {now!r} but the run was trained with {recorded!r} ({where}); pass "
            f"--allow-config-change to continue with it (run.json then records both segments)"
        )
    return {key: [recorded, now] for key, recorded, now in diffs}
