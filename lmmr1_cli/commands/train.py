"""`lmmr1 train-fre` and `lmmr1 train-mgt`: resolve a recipe, show or launch it, train with a live progress bar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lmmr1_cli.cli import app, console
from lmmr1_cli.errors import ConfigError

FRE_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 train-fre --recipe tiny-fre --data data/arith-train -o runs/fre          (CPU demo)\n\n"
    "  lmmr1 train-fre --data data/deepscaler -o runs/fre optim.learning_rate=1e-6    (paper recipe fre-text)\n\n"
    "  lmmr1 train-fre --data data/deepscaler -o runs/fre --num-processes 8 --accelerate-config zero2 --dry-run"
)
MGT_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 train-mgt --recipe tiny-mgt --init runs/fre --data data/geo-train -o runs/mgt   (CPU demo)\n\n"
    "  lmmr1 train-mgt --init runs/fre --data data/vermulti-geo -o runs/mgt-geo          (paper recipe mgt-geo)"
)


def _in_launched_process() -> bool:
    return "LOCAL_RANK" in os.environ or "ACCELERATE_PROCESS_ID" in os.environ


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _progress_printer(progress: Progress):
    task = progress.add_task("training", total=None)

    def on_event(event: dict) -> None:
        total = event.get("max_steps") or None
        if event["event"] == "begin":
            progress.update(task, total=total, completed=event.get("step", 0))
            return
        acc = event.get("rewards/accuracy_reward/mean")
        fmt = event.get("rewards/format_reward/mean")
        desc = f"reward {event.get('reward', float('nan')):.3f}"
        if acc is not None:
            desc += f"  acc {acc:.3f}"
        if fmt is not None:
            desc += f"  format {fmt:.3f}"
        progress.update(task, total=total, completed=event["step"], description=desc)

    return on_event


def _summary_table(summary: dict) -> Table:
    table = Table(title=f"{summary['stage'].upper()} run: {summary['run_dir']}", show_header=True)
    table.add_column("metric")
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    for name in ("reward", "accuracy", "format"):
        start, end = summary.get(f"{name}_start"), summary.get(f"{name}_end")
        table.add_row(name, "-" if start is None else f"{start:.3f}", "-" if end is None else f"{end:.3f}")
    table.add_row("steps", "", str(summary["steps"]))
    table.add_row("seconds/step", "", str(summary.get("seconds_per_step")))
    return table


def run_train_command(
    stage: str,
    recipe: str,
    data: Path,
    out: Path,
    config_file: Path | None,
    overrides: list[str],
    model: str | None,
    init: str | None,
    resume: bool,
    force: bool,
    dry_run: bool,
    as_json: bool,
    num_processes: int,
    accelerate_config: str | None,
    use_vllm: bool,
    vllm_mode: str | None,
    emit_sbatch: tuple[int, int] | None = None,
) -> None:
    from lmmr1_cli.config import config_to_dict, load_train_config
    from lmmr1_cli.launch import accelerate_command, render

    extra = list(overrides or [])
    if model:
        extra.insert(0, f"model.name_or_path={model}")
    if init:
        extra.insert(0, f"model.name_or_path={init}")
    if use_vllm:
        extra.append("rollout.use_vllm=true")
    if vllm_mode:
        extra.append(f"rollout.vllm_mode={vllm_mode}")
    config = load_train_config(recipe, config_file, extra)
    if config.stage != stage:
        raise ConfigError(f"recipe '{recipe}' is a {config.stage} recipe; use `lmmr1 train-{config.stage}`")
    argv = sys.argv[1:]
    launch_cmd = accelerate_command(argv, num_processes, accelerate_config)

    if emit_sbatch:
        _write_sbatch(stage, config, argv, emit_sbatch, out, accelerate_config, force)
        return

    if dry_run:
        from lmmr1_cli.train import build_grpo_config

        grpo = build_grpo_config(config, out, num_processes=num_processes, use_cpu=False)
        resolved = {
            "config": config_to_dict(config),
            "grpo_config": {
                k: getattr(grpo, k)
                for k in (
                    "learning_rate",
                    "per_device_train_batch_size",
                    "gradient_accumulation_steps",
                    "num_generations",
                    "generation_batch_size",
                    "beta",
                    "epsilon",
                    "scale_rewards",
                    "loss_type",
                    "reward_weights",
                    "temperature",
                    "max_completion_length",
                    "lr_scheduler_type",
                    "warmup_steps",
                    "use_vllm",
                    "save_steps",
                    "seed",
                )
            },
            "launch_command": render(launch_cmd),
        }
        if as_json:
            print(json.dumps(resolved, indent=2, default=str))
        else:
            console.print(yaml.safe_dump(resolved["config"], sort_keys=False), markup=False, highlight=False)
            console.print(
                yaml.safe_dump({"grpo_config": resolved["grpo_config"]}, sort_keys=False), markup=False
            )
            console.print("launch command:", style="bold")
            print(render(launch_cmd))
        return

    if num_processes > 1 and not _in_launched_process():
        # Re-run this very command under accelerate on every process; its exit code is ours.
        local = Path(sys.executable).with_name(
            "accelerate"
        )  # the venv's, even when the venv is not activated
        runnable = [str(local), *launch_cmd[1:]] if local.is_file() else launch_cmd
        completed = subprocess.run(runnable, check=False)
        raise typer.Exit(completed.returncode)

    from lmmr1_cli.train import train_stage

    show = _is_main_process() and not as_json
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
    ) as progress:
        summary = train_stage(
            config,
            data,
            out,
            resume=resume,
            force=force,
            progress=_progress_printer(progress) if show else None,
        )
    if not _is_main_process():
        return
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        console.print(_summary_table(summary))
        console.print(f"final model: {summary['final_model']}")


def _write_sbatch(stage, config, argv, emit_sbatch, out: Path, accelerate_config, force: bool) -> None:
    from lmmr1_cli.errors import OutputExistsError
    from lmmr1_cli.launch import sbatch_script
    from lmmr1_cli.modeling import TINY

    nodes, gpus = emit_sbatch
    path = Path(f"{str(out).rstrip('/')}.sbatch")  # beside the run dir: the run dir itself must start empty
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: exists (pass --force to replace it)")
    if config.model.name_or_path == TINY:
        raise ConfigError("--emit-sbatch: the embedded tiny model is for CPU demos; pass a real model")
    server = config.rollout.use_vllm and config.rollout.vllm_mode == "server"
    text = sbatch_script(
        stage,
        argv,
        nodes,
        gpus,
        accelerate_config,
        str(path),
        server,
        config.model.name_or_path,
        config.rollout.vllm_server_port,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".sbatch.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.replace(path)
    console.print(f"wrote {path}: submit it with `sbatch {path}`")


_SBATCH = typer.Option(
    None,
    "--emit-sbatch",
    help="Write OUT.sbatch for SLURM: N_NODES GPUS_PER_NODE (+1 vLLM node in server mode).",
)
_DATA = typer.Option(..., "--data", help="Prepared dataset dir (from `lmmr1 prepare-data`).")
_OUT = typer.Option(..., "-o", "--out", help="Run dir: checkpoints/, final/, metrics.jsonl, run.json.")
_CONFIG = typer.Option(None, "--config", help="YAML file with config sections; overrides the recipe.")
_OVERRIDES = typer.Argument(None, help="key=value overrides, e.g. optim.learning_rate=1e-6 run.max_steps=100")
_RESUME = typer.Option(False, "--resume", help="Continue from the run's newest complete checkpoint.")
_FORCE = typer.Option(False, "--force", help="Replace an existing non-empty run dir.")
_DRY = typer.Option(
    False, "--dry-run", help="Print the resolved config and the accelerate command; train nothing."
)
_JSON = typer.Option(False, "--json", help="Print the summary (or the dry-run) as JSON.")
_NPROC = typer.Option(1, "--num-processes", min=1, help="Processes (GPUs); > 1 re-launches under accelerate.")
_ACC = typer.Option(None, "--accelerate-config", help="zero2, zero3, fsdp, ddp, or an accelerate YAML file.")
_VLLM = typer.Option(False, "--use-vllm", help="Generate rollouts with vLLM (CUDA only).")
_VLLM_MODE = typer.Option(
    None, "--vllm-mode", help="colocate or server (with `trl vllm-serve` on another node)."
)


@app.command("train-fre", epilog=FRE_EPILOG)
def train_fre(
    data: Path = _DATA,
    out: Path = _OUT,
    recipe: str = typer.Option("fre-text", "--recipe", help="Stage recipe (fre-text, fre-multi, tiny-fre)."),
    model: str = typer.Option(
        None, "--model", help="Base model: HF id, dir, or `tiny` (default: the recipe's)."
    ),
    config_file: Path = _CONFIG,
    overrides: list[str] = _OVERRIDES,
    resume: bool = _RESUME,
    force: bool = _FORCE,
    dry_run: bool = _DRY,
    as_json: bool = _JSON,
    num_processes: int = _NPROC,
    accelerate_config: str = _ACC,
    use_vllm: bool = _VLLM,
    vllm_mode: str = _VLLM_MODE,
    emit_sbatch: tuple[int, int] = _SBATCH,
) -> None:
    """Stage 1 (FRE): rule-based RL on text-only verifiable problems with TRL's GRPOTrainer."""
    run_train_command(
        "fre",
        recipe,
        data,
        out,
        config_file,
        overrides,
        model,
        None,
        resume,
        force,
        dry_run,
        as_json,
        num_processes,
        accelerate_config,
        use_vllm,
        vllm_mode,
        emit_sbatch,
    )


@app.command("train-mgt", epilog=MGT_EPILOG)
def train_mgt(
    init: str = typer.Option(
        ..., "--init", help="FRE run dir (its final/ or newest checkpoint), model dir or HF id."
    ),
    data: Path = _DATA,
    out: Path = _OUT,
    recipe: str = typer.Option(
        "mgt-geo", "--recipe", help="Stage recipe (mgt-geo, mgt-percereason, mgt-sokoban, tiny-mgt)."
    ),
    config_file: Path = _CONFIG,
    overrides: list[str] = _OVERRIDES,
    resume: bool = _RESUME,
    force: bool = _FORCE,
    dry_run: bool = _DRY,
    as_json: bool = _JSON,
    num_processes: int = _NPROC,
    accelerate_config: str = _ACC,
    use_vllm: bool = _VLLM,
    vllm_mode: str = _VLLM_MODE,
    emit_sbatch: tuple[int, int] = _SBATCH,
) -> None:
    """Stage 2 (MGT): continue from the FRE model with RL on multimodal tasks."""
    run_train_command(
        "mgt",
        recipe,
        data,
        out,
        config_file,
        overrides,
        None,
        init,
        resume,
        force,
        dry_run,
        as_json,
        num_processes,
        accelerate_config,
        use_vllm,
        vllm_mode,
        emit_sbatch,
    )
