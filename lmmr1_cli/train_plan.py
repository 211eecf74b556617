"""What `lmmr1 train-fre` / `train-mgt` were asked to do, resolved before anything heavy runs.

`TrainRequest` holds the options as typed; from it come the key=value overrides, the resolved `TrainConfig`, the
cheap checks a typo must fail on within a second (data dir, output dir, init model; no torch import), the dry-run
plan (the whole GRPOConfig and the accelerate command) and the SLURM script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lmmr1_cli.atomic import write_text_atomic
from lmmr1_cli.config import TrainConfig, config_to_dict, load_train_config
from lmmr1_cli.errors import ConfigError, OutputExistsError
from lmmr1_cli.launch import accelerate_command, in_launched_process, render, sbatch_script


@dataclass
class TrainRequest:
    """One training command line: `stage` is fre or mgt; `argv` is the command as typed after `lmmr1` (what the
    accelerate relaunch and the SLURM script run again on every process)."""

    stage: str
    recipe: str
    data: Path
    out: Path
    argv: list[str]
    config_file: Path | None = None
    overrides: list[str] = field(default_factory=list)
    model: str | None = None  # train-fre --model
    init: str | None = None  # train-mgt --init
    resume: bool = False
    force: bool = False
    num_processes: int = 1
    accelerate_config: str | None = None
    use_vllm: bool = False
    vllm_mode: str | None = None

    @property
    def launch_command(self) -> list[str]:
        """`accelerate launch ... -m lmmr1_cli train-* ...` for this request (launch-only options removed)."""
        return accelerate_command(self.argv, self.num_processes, self.accelerate_config)


def build_overrides(request: TrainRequest) -> list[str]:
    """The user's key=value overrides plus those the dedicated options stand for (the model first, so an
    explicit `model.name_or_path=` override still wins)."""
    extra = list(request.overrides)
    if request.model:
        extra.insert(0, f"model.name_or_path={request.model}")
    if request.init:
        extra.insert(0, f"model.name_or_path={request.init}")
    if request.use_vllm:
        extra.append("rollout.use_vllm=true")
    if request.vllm_mode:
        extra.append(f"rollout.vllm_mode={request.vllm_mode}")
    return extra


def resolve_config(request: TrainRequest) -> TrainConfig:
    """Recipe < --config < overrides, checked; the recipe must belong to the command's stage."""
    config = load_train_config(request.recipe, request.config_file, build_overrides(request))
    if config.stage != request.stage:
        raise ConfigError(
            f"recipe '{request.recipe}' is a {config.stage} recipe; use `lmmr1 train-{config.stage}`"
        )
    return config


def check_before_training(request: TrainRequest, config: TrainConfig) -> None:
    """The mistakes a user makes most, found before torch/transformers/trl are imported (~5 s).

    Same checks and messages as training itself makes later: a bad data dir, a model path that does not exist,
    a non-empty run dir without --force or --resume.
    """
    from lmmr1_cli.data.dataset import load_rows
    from lmmr1_cli.modeling import TINY, resolve_model

    load_rows(request.data, limit=1)
    if config.model.name_or_path != TINY:  # (building the tiny model is not a check)
        resolve_model(config.model.name_or_path)  # reads only file names and adapter_config.json
    out = Path(request.out)
    # A launched process re-runs this command after its parent checked; rank 0 may be filling the run dir.
    if in_launched_process() or request.resume or request.force:
        return
    if out.is_dir() and any(out.iterdir()):
        raise OutputExistsError(f"{out}: output dir exists and is not empty (pass --force to replace it)")


def dry_run_plan(request: TrainRequest, config: TrainConfig) -> dict[str, Any]:
    """What a run would do, JSON-safe: the resolved lmmr1 config, every GRPOConfig field TRL would get, and the
    accelerate command. Touches no model, data or output dir."""
    from lmmr1_cli.train import build_grpo_config

    grpo = build_grpo_config(config, request.out, num_processes=request.num_processes, use_cpu=False)
    plan = {
        "config": config_to_dict(config),
        # GRPOConfig.to_dict turns enums (SchedulerType, ...) into their values and hides token fields.
        "grpo_config": grpo.to_dict(),
        "launch_command": render(request.launch_command),
    }
    return json.loads(json.dumps(plan, default=str))


def plan_as_text(plan: dict[str, Any]) -> str:
    """The dry-run plan for a reader: the config and the GRPOConfig as YAML, then the launch command."""
    return "\n".join(
        [
            yaml.safe_dump(plan["config"], sort_keys=False).rstrip(),
            "",
            yaml.safe_dump({"grpo_config": plan["grpo_config"]}, sort_keys=False).rstrip(),
            "",
            "launch command:",
            plan["launch_command"],
        ]
    )


def sbatch_path(out: Path) -> Path:
    """OUT.sbatch beside the run dir: the run dir itself must start empty for the job."""
    return Path(f"{str(out).rstrip('/')}.sbatch")


def write_sbatch(request: TrainRequest, config: TrainConfig, nodes: int, gpus_per_node: int) -> Path:
    """Write the SLURM script that runs this request on `nodes` x `gpus_per_node` GPUs; returns its path."""
    from lmmr1_cli.modeling import TINY

    path = sbatch_path(request.out)
    if path.exists() and not request.force:
        raise OutputExistsError(f"{path}: exists (pass --force to replace it)")
    if config.model.name_or_path == TINY:
        raise ConfigError("--emit-sbatch: the embedded tiny model is for CPU demos; pass a real model")
    rollout = config.rollout
    text = sbatch_script(
        request.stage,
        request.argv,
        nodes,
        gpus_per_node,
        request.accelerate_config,
        str(path),
        vllm_server=rollout.use_vllm and rollout.vllm_mode == "server",
        vllm_model=config.model.name_or_path,
        vllm_port=rollout.vllm_server_port,
    )
    return write_text_atomic(path, text, mode=0o755)
