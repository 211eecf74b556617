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
from lmmr1_cli.batching import RunPlan, plan_run
from lmmr1_cli.config import TrainConfig, config_to_dict, load_train_config
from lmmr1_cli.errors import ConfigError, DataError, OutputExistsError
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
    allow_config_change: bool = False  # with --resume (lineage.RESUME_SAFE_KEYS)
    eval_data: list[str] = field(default_factory=list)  # --eval-data NAME=DIR | DIR (eval.sets)
    # --emit-sbatch only: #SBATCH --time / --partition / --cpus-per-task
    slurm_time: str | None = None
    slurm_partition: str | None = None
    slurm_cpus_per_task: int | None = None

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
    if request.eval_data:
        extra.append(f"eval.sets={json.dumps([str(spec) for spec in request.eval_data])}")
    return extra


def resolve_config(request: TrainRequest) -> TrainConfig:
    """Recipe < --config < overrides, checked; the recipe must belong to the command's stage."""
    config = load_train_config(request.recipe, request.config_file, build_overrides(request))
    if config.stage != request.stage:
        raise ConfigError(
            f"recipe '{request.recipe}' is a {config.stage} recipe; use `lmmr1 train-{config.stage}`"
        )
    return config


def check_before_training(
    request: TrainRequest,
    config: TrainConfig,
    *,
    num_processes: int | None = None,
    check_run_dir: bool = True,
    check_hub: bool = True,
) -> dict | None:
    """Every mistake that can be found before torch/transformers/trl are imported (~5 s) and before an N-process
    relaunch, so each is said once, in one line, whatever path the command takes: a plain run, --num-processes N,
    --dry-run, --emit-sbatch (`num_processes` = nodes x GPUs, `check_run_dir=False`: the script checks the run dir
    on the cluster; with both, `check_hub=False`: an HF id is the job's to fetch) and `lmmr1 doctor --recipe`.
    Returns the summary of a finished run that --resume finds (nothing to train), else None.

    The checks, cheapest first: the data dir, the model path, the batch layout for the process count (and whole
    groups per process for dynamic sampling), custom reward files and functions, the output dir against
    --resume/--force and run.json, data with missing images or stored below the recipe's pixel bounds, at least
    one rollout's worth of rows, and the validation sets.
    """
    from lmmr1_cli.batching import check_whole_groups, trl_layout
    from lmmr1_cli.custom_rewards import check_reward_spec
    from lmmr1_cli.data.dataset import load_rows
    from lmmr1_cli.modeling import TINY, resolve_model
    from lmmr1_cli.train_data import check_training_data
    from lmmr1_cli.validation import check_validation

    processes = num_processes or request.num_processes
    load_rows(request.data, limit=1)
    if config.model.name_or_path != TINY:  # (building the tiny model is not a check)
        # Reads only file names and adapter_config.json (and asks the hub about an HF id unless told not to).
        resolve_model(config.model.name_or_path, check_hub=check_hub)
    trl_layout(config.batch.shape(), processes)
    if config.rollout.dynamic_sampling:
        check_whole_groups(config.batch.shape(), processes)
    for spec in config.rewards.custom:
        check_reward_spec(spec)
    finished = _check_run_dir(request, config) if check_run_dir else None
    if finished is not None:
        return finished
    check_training_data(request.data, config)
    problem = run_plan(config, request.data, processes).problem
    if problem:
        raise ConfigError(problem)  # TRL would train zero steps and call it a run
    check_validation(config)
    return None


def _check_run_dir(request: TrainRequest, config: TrainConfig) -> dict | None:
    """The output dir against --resume / --force; a finished run's summary when --resume finds one."""
    from lmmr1_cli.lineage import check_resume
    from lmmr1_cli.rundir import existing_run, finished_summary, last_checkpoint, nothing_to_resume

    out = Path(request.out)
    if request.resume:
        if last_checkpoint(out) is None:
            raise nothing_to_resume(out)
        check_resume(out, config, request.data, request.allow_config_change)
        return finished_summary(out, config.run.max_steps)
    # A launched process re-runs this command after its parent checked; rank 0 may be filling the run dir.
    if not (in_launched_process() or request.force) and out.is_dir() and any(out.iterdir()):
        raise existing_run(out)
    return None


def plan_warnings(request: TrainRequest, config: TrainConfig, num_processes: int | None = None) -> list[str]:
    """What is allowed but probably not meant (validation that never fires), as sentences for `warning:` lines."""
    from lmmr1_cli.validation import schedule_warning

    plan = run_plan(config, request.data, num_processes or request.num_processes)
    warning = schedule_warning(config, plan.optimizer_steps_per_rollout, plan.optimizer_steps)
    return [warning] if warning else []


def resume_command(request: TrainRequest) -> str:
    """The command as typed, made to continue the run: --resume added, --force (which deletes it) removed."""
    import shlex

    argv = [a for a in request.argv if a != "--force"]
    return shlex.join(["lmmr1", *argv, *([] if "--resume" in argv else ["--resume"])])


def resuming_line(request: TrainRequest) -> str:
    """What a --resume continues from, said before training starts."""
    from lmmr1_cli.rundir import checkpoint_step, last_checkpoint

    checkpoint = last_checkpoint(Path(request.out))
    return f"resuming from {checkpoint} (step {checkpoint_step(checkpoint)})"


def interrupted_advice(request: TrainRequest) -> str:
    """After Ctrl-C: the newest checkpoint and the command that continues from it, or that none was written."""
    from lmmr1_cli.rundir import checkpoint_step, last_checkpoint

    checkpoint = last_checkpoint(Path(request.out))
    if checkpoint is None:
        return "stopped before the first checkpoint: nothing to resume; run the same command to start again"
    return (
        f"stopped; the newest checkpoint is {checkpoint} (step {checkpoint_step(checkpoint)}); continue with: "
        f"{resume_command(request)}"
    )


def dry_run_plan(request: TrainRequest, config: TrainConfig) -> dict[str, Any]:
    """What a run would do, JSON-safe: the resolved lmmr1 config, every GRPOConfig field TRL would get, the run
    plan (rollouts, optimizer steps, warm-up, checkpoints) and the accelerate command. Reads the dataset's
    manifest for its row count; touches no model and no output dir."""
    from lmmr1_cli.train import build_grpo_config
    from lmmr1_cli.validation import validation_steps

    grpo = build_grpo_config(config, request.out, num_processes=request.num_processes, use_cpu=False)
    run = run_plan(config, request.data, request.num_processes)
    plan = {
        "config": config_to_dict(config),
        # GRPOConfig.to_dict turns enums (SchedulerType, ...) into their values and hides token fields.
        "grpo_config": grpo.to_dict(),
        "plan": {
            **run.as_dict(),
            "validation_steps": validation_steps(
                config, run.optimizer_steps_per_rollout, run.optimizer_steps
            ),
        },
        "warnings": plan_warnings(request, config),
        "launch_command": render(request.launch_command),
    }
    return json.loads(json.dumps(plan, default=str))


def run_plan(config: TrainConfig, data: Path, num_processes: int) -> RunPlan:
    """The run's rollouts and optimizer steps over `data` (row count from its manifest, capped by
    run.limit_train_rows). Prompts over rollout.prompt_max_len are dropped only when training starts, so the
    real run can be shorter by those rows; without a manifest the whole-run numbers are None."""
    from lmmr1_cli.data.dataset import load_manifest

    try:
        rows = int(load_manifest(data)["counts"]["kept"])
    except (DataError, KeyError, TypeError, ValueError):
        rows = None
    if rows is not None and config.run.limit_train_rows is not None:
        rows = min(rows, config.run.limit_train_rows)
    return plan_run(
        config.batch.shape(),
        num_processes,
        rows,
        max_steps=config.run.max_steps,
        warmup_ratio=config.optim.warmup_ratio,
        save_every_rollouts=config.run.save_every_rollouts,
    )


def plan_as_text(plan: dict[str, Any]) -> str:
    """The dry-run plan for a reader: the config and the GRPOConfig as YAML, the run plan, the launch command."""
    return "\n".join(
        [
            yaml.safe_dump(plan["config"], sort_keys=False).rstrip(),
            "",
            yaml.safe_dump({"grpo_config": plan["grpo_config"]}, sort_keys=False).rstrip(),
            "",
            # As YAML comments, so the whole text still reads back as YAML.
            *(f"# {line}" for line in run_plan_lines(plan)),
            "",
            "launch command:",
            plan["launch_command"],
        ]
    )


def run_plan_lines(plan: dict[str, Any]) -> list[str]:
    """The run plan in words: what one rollout is, how many there are, and where checkpoints fall."""
    run, batch, grpo = plan["plan"], plan["config"]["batch"], plan["grpo_config"]
    procs = run["num_processes"]
    passes = batch["passes_per_rollout"]
    lines = [
        f"run plan ({_n(procs, 'process', 'processes')}):",
        f"  rollout: {batch['prompts_per_rollout']} prompts x {batch['samples_per_prompt']} samples = "
        f"{run['completions_per_rollout']} completions -> {_n(run['optimizer_steps_per_rollout'], 'optimizer step')}"
        f" of {batch['samples_per_step']} completions ({grpo['per_device_train_batch_size']} per process x "
        f"{grpo['gradient_accumulation_steps']} accumulation x {procs})"
        + (f", {passes} passes over each rollout" if passes > 1 else ""),
    ]
    if run["training_rows"] is None:
        lines.append("  data: no manifest found, so the whole-run numbers are unknown")
        return lines
    length = (
        f"run.max_steps = {plan['config']['run']['max_steps']} sets the length"
        if plan["config"]["run"]["max_steps"] > 0
        else _n(batch["episodes"], "episode")
    )
    lines.append(
        f"  data: {run['training_rows']} rows = {_n(run['rollouts_per_episode'], 'rollout')} per episode; {length}"
    )
    lines.append(
        f"  run: {_n(run['rollouts'], 'rollout')}, {_n(run['optimizer_steps'], 'optimizer step')}, "
        f"{run['warmup_steps']} of them warm-up"
    )
    steps = run["checkpoint_steps"]
    where = ", ".join(map(str, steps[:3])) + (f", ..., {steps[-1]}" if len(steps) > 3 else "")
    lines.append(
        f"  checkpoints: every {_n(plan['config']['run']['save_every_rollouts'], 'rollout')} = "
        f"{_n(run['checkpoint_every_steps'], 'step')}: "
        + (f"at {where}" if steps else "none")
        + ", then final/"
    )
    lines += _validation_lines(plan) + _dynamic_sampling_lines(plan)
    if run["problem"]:
        lines.append(f"  problem: {run['problem']}")
    lines += [f"  warning: {warning}" for warning in plan.get("warnings", [])]
    return lines


def _validation_lines(plan: dict[str, Any]) -> list[str]:
    evaluation, steps = plan["config"]["eval"], plan["plan"].get("validation_steps")
    if not evaluation["sets"] or steps is None:
        return []
    shown = steps if len(steps) <= 5 else [*steps[:4], "...", steps[-1]]
    where = ", ".join(map(str, shown))
    return [
        f"  validation: {_n(len(evaluation['sets']), 'set')} every {_n(evaluation['every_rollouts'], 'rollout')}"
        f": {_n(len(steps), 'point')}" + (f" at steps {where}" if steps else "")
    ]


def _dynamic_sampling_lines(plan: dict[str, Any]) -> list[str]:
    rollout, batch = plan["config"]["rollout"], plan["config"]["batch"]
    if not rollout["dynamic_sampling"]:
        return []
    return [
        f"  dynamic sampling: groups whose {batch['samples_per_prompt']} rewards tie are dropped and up to "
        f"{_n(rollout['max_sampling_rounds'], 'extra generation round')} per rollout refill the "
        f"{batch['prompts_per_rollout']} groups (dynamic_sampling/* metrics); each round costs a generation"
    ]


def _n(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


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
    out = Path(request.out)
    if not request.resume and out.is_dir() and any(out.iterdir()):
        raise OutputExistsError(
            f"{out}: exists and is not empty, so the job would refuse it; choose another -o "
            "(or pass --resume to continue that run on the cluster)"
        )
    rollout = config.rollout
    server = rollout.use_vllm and rollout.vllm_mode == "server"
    text = sbatch_script(
        request.stage,
        request.argv,
        nodes,
        gpus_per_node,
        request.accelerate_config,
        str(path),
        run_dir=str(out.resolve()),
        chdir=str(Path.cwd()),
        vllm_server=server,
        vllm_model=served_model(config.model.name_or_path) if server else "",
        vllm_port=rollout.vllm_server_port,
        time_limit=request.slurm_time,
        partition=request.slurm_partition,
        cpus_per_task=request.slurm_cpus_per_task,
    )
    return write_text_atomic(path, text, mode=0o755)


def served_model(ref: str) -> str:
    """What `trl vllm-serve --model` loads for a model reference: a run dir's final/ (or newest checkpoint) as an
    absolute path, an HF id as it is. vLLM cannot serve a bare LoRA adapter: export it first."""
    from lmmr1_cli.modeling import resolve_model

    if not Path(ref).expanduser().exists():
        return ref  # an HF id: the rollout node downloads it (no hub lookup from the login node)
    source = resolve_model(ref)
    if source.is_lora:
        raise ConfigError(
            f"--emit-sbatch --vllm-mode server: {ref} is a LoRA adapter, which `trl vllm-serve` cannot load; "
            f"merge it first (`lmmr1 export {ref} -o exported/NAME`) and pass that dir"
        )
    path = Path(source.location)
    return str(path.resolve()) if path.is_dir() else source.location
