"""`lmmr1 train-fre` and `lmmr1 train-mgt`: resolve a recipe, show or launch it, train with a live progress bar."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from lmmr1_cli.commands.options import (
    AccelerateConfigOpt,
    AllowConfigChangeOpt,
    ConfigFileOpt,
    DataOpt,
    DryRunOpt,
    EmitSbatchOpt,
    EvalDataOpt,
    ForceOpt,
    JsonOpt,
    NumProcessesOpt,
    OverridesArg,
    ResumeOpt,
    RunDirOpt,
    SlurmCpusOpt,
    SlurmPartitionOpt,
    SlurmTimeOpt,
    UseVllmOpt,
    VllmModeOpt,
)
from lmmr1_cli.commands.output import console, err_console
from lmmr1_cli.commands.progress import progress_bar
from lmmr1_cli.launch import in_launched_process, is_main_process
from lmmr1_cli.train_plan import (
    TrainRequest,
    check_before_training,
    dry_run_plan,
    interrupted_advice,
    plan_as_text,
    plan_warnings,
    resolve_config,
    resuming_line,
    write_sbatch,
)

FRE_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 train-fre --recipe tiny-fre --data data/arith-train -o runs/fre          (CPU demo)\n\n"
    "  lmmr1 train-fre --data data/deepscaler -o runs/fre optim.learning_rate=1e-6    (paper recipe fre-text)\n\n"
    "  lmmr1 train-fre --data data/deepscaler -o runs/fre --num-processes 8 --accelerate-config zero2 --dry-run\n\n"
    "  lmmr1 train-fre --data data/deepscaler -o runs/fre --resume --allow-config-change run.max_steps=600\n\n"
    "  lmmr1 train-fre --data data/deepscaler -o runs/fre --emit-sbatch 4 8 --time 2-00:00:00 --partition gpu"
)
MGT_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 train-mgt --recipe tiny-mgt --init runs/fre --data data/geo-train -o runs/mgt   (CPU demo)\n\n"
    "  lmmr1 train-mgt --init runs/fre --data data/vermulti-geo -o runs/mgt-geo          (paper recipe mgt-geo)"
)


def train_fre(
    data: DataOpt,
    out: RunDirOpt,
    recipe: Annotated[
        str, typer.Option("--recipe", help="Stage recipe (fre-text, fre-multi, tiny-fre).")
    ] = "fre-text",
    model: Annotated[
        str | None,
        typer.Option("--model", help="Base model: HF id, dir, or `tiny` (default: the recipe's)."),
    ] = None,
    config_file: ConfigFileOpt = None,
    overrides: OverridesArg = None,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    num_processes: NumProcessesOpt = 1,
    accelerate_config: AccelerateConfigOpt = None,
    use_vllm: UseVllmOpt = False,
    vllm_mode: VllmModeOpt = None,
    eval_data: EvalDataOpt = None,
    emit_sbatch: EmitSbatchOpt = None,
    allow_config_change: AllowConfigChangeOpt = False,
    slurm_time: SlurmTimeOpt = None,
    slurm_partition: SlurmPartitionOpt = None,
    slurm_cpus_per_task: SlurmCpusOpt = None,
) -> None:
    """Stage 1 (FRE): rule-based RL on text-only verifiable problems with TRL's GRPOTrainer."""
    _train("fre", locals())


def train_mgt(
    init: Annotated[
        str,
        typer.Option("--init", help="FRE run dir (its final/ or newest checkpoint), model dir or HF id."),
    ],
    data: DataOpt,
    out: RunDirOpt,
    recipe: Annotated[
        str,
        typer.Option(
            "--recipe", help="Stage recipe (mgt-geo, mgt-percereason, mgt-sokoban, direct-rl-geo, tiny-mgt)."
        ),
    ] = "mgt-geo",
    config_file: ConfigFileOpt = None,
    overrides: OverridesArg = None,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    num_processes: NumProcessesOpt = 1,
    accelerate_config: AccelerateConfigOpt = None,
    use_vllm: UseVllmOpt = False,
    vllm_mode: VllmModeOpt = None,
    eval_data: EvalDataOpt = None,
    emit_sbatch: EmitSbatchOpt = None,
    allow_config_change: AllowConfigChangeOpt = False,
    slurm_time: SlurmTimeOpt = None,
    slurm_partition: SlurmPartitionOpt = None,
    slurm_cpus_per_task: SlurmCpusOpt = None,
) -> None:
    """Stage 2 (MGT): continue from the FRE model with RL on multimodal tasks."""
    _train("mgt", locals())


def _train(stage: str, options: dict) -> None:
    """Both commands' parameters are named as TrainRequest's fields, so one request builder serves both."""
    flags = {name: options.pop(name) for name in ("dry_run", "as_json", "emit_sbatch")}
    options["overrides"] = options["overrides"] or []
    options["eval_data"] = options["eval_data"] or []
    request = TrainRequest(stage=stage, argv=sys.argv[1:], **options)
    run_train_request(request, **flags)


def run_train_request(
    request: TrainRequest, *, dry_run: bool, as_json: bool, emit_sbatch: tuple[int, int] | None
) -> None:
    """Both training commands: write a SLURM script, print the plan, relaunch on N processes, or train here.
    Every path runs the same checks first (train_plan.check_before_training), so a mistake is one line, exit 2,
    before a model loads or a process starts."""
    config = resolve_config(request)
    launch_cmd = request.launch_command  # checks --accelerate-config before anything else runs
    # A script for N nodes x G GPUs trains on N x G processes; its run dir is checked by the job itself.
    processes = emit_sbatch[0] * emit_sbatch[1] if emit_sbatch and min(emit_sbatch) >= 1 else None
    finished = check_before_training(
        request,
        config,
        num_processes=processes,
        check_run_dir=not emit_sbatch,
        check_hub=not (dry_run or emit_sbatch),
    )
    # After the checks above: importing the engine (DeepSpeed imports torch) costs seconds, they cost none.
    check_launch_engine(request, emit_sbatch is not None)
    if not in_launched_process():  # said once, by the command the user typed
        for warning in plan_warnings(request, config, processes):
            err_console.print(f"warning: {warning}", highlight=False, soft_wrap=True)
    if emit_sbatch:
        path = write_sbatch(request, config, *emit_sbatch)
        console.print(f"wrote {path}: submit it with `sbatch {path}`")
        return
    if dry_run:
        plan = dry_run_plan(request, config)
        if as_json:
            print(json.dumps(plan, indent=2))
        else:
            print(plan_as_text(plan))
        return
    if finished is not None:
        # A requeued job or a repeated command: the run is done; nothing is trained and nothing rewritten.
        if as_json:
            print(json.dumps({**finished, "already_complete": True}, indent=2))
        elif is_main_process():
            console.print(
                f"{request.out}: run already complete ({finished['steps']} steps); nothing to do "
                f"(final model: {finished['final_model']})",
                highlight=False,
            )
        return
    if request.resume and not in_launched_process() and not as_json:
        console.print(resuming_line(request), highlight=False, soft_wrap=True)
    try:
        summary = _train_or_relaunch(request, config, launch_cmd, as_json)
    except KeyboardInterrupt:
        if not in_launched_process():
            err_console.print(interrupted_advice(request), highlight=False, soft_wrap=True)
        raise
    if summary is None or not is_main_process():
        return
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        console.print(_summary_table(summary))
        # Printed as a line, not a caption: a caption wraps at the table's width.
        console.print(f"start → end: {summary.get('start_end', '-')}", highlight=False)
        console.print(f"generation: {generation_line(summary.get('generation') or {})}", highlight=False)
        console.print(f"final model: {summary['final_model']}")


def _train_or_relaunch(request: TrainRequest, config, launch_cmd: list[str], as_json: bool) -> dict | None:
    """Train in this process and return the summary, or re-run this very command under accelerate on every
    process (its exit code is ours; the ranks print the summary)."""
    if request.num_processes > 1 and not in_launched_process():
        from lmmr1_cli.launch import relaunch

        code = relaunch(launch_cmd)
        if code == 130:  # the ranks were interrupted (Ctrl-C reaches the whole process group)
            err_console.print(interrupted_advice(request), highlight=False, soft_wrap=True)
        raise typer.Exit(code)

    if in_launched_process():
        from lmmr1_cli.launch import end_with_the_launcher

        end_with_the_launcher()
    from lmmr1_cli.train import train_stage
    from lmmr1_cli.vllm_engine import fault_warning

    if config.rollout.use_vllm and is_main_process() and (warning := fault_warning()):
        err_console.print(warning, highlight=False, markup=False)
    show = is_main_process() and not as_json
    with progress_bar("training", console=console, transient=False, disable=not show) as update:
        return train_stage(
            config,
            request.data,
            request.out,
            resume=request.resume,
            force=request.force,
            allow_config_change=request.allow_config_change,
            progress=_on_train_event(update) if show else None,
        )


def check_launch_engine(request: TrainRequest, emitting: bool) -> None:
    """The engine this launch (or the emitted script) runs can start in this install: one line, before any load."""
    from lmmr1_cli.engines import check_engine_available, default_cluster_engine
    from lmmr1_cli.launch import accelerate_config_path

    name = request.accelerate_config or (default_cluster_engine() if emitting else None)
    if name is not None and not in_launched_process():
        check_engine_available(accelerate_config_path(name))


def _on_train_event(update):
    """Turn train_stage's events into bar updates: the step count and the run's `end` values so far, by the
    definition the final summary uses (run_metrics.start_end), so the last bar and the summary agree."""

    def on_event(event: dict) -> None:
        total = event.get("max_steps") or None
        if event["event"] == "begin":
            update(total=total, completed=event.get("step", 0))
            return
        if event["event"] == "eval":
            from lmmr1_cli.validation import event_line

            console.print(event_line(event), highlight=False)
            return
        summary = event.get("summary") or {}
        parts = [
            f"{label} {summary[f'{name}_end']:.3f}"
            for name, label in (("reward", "reward"), ("accuracy", "acc"), ("format", "format"))
            if summary.get(f"{name}_end") is not None
        ]
        update(total=total, completed=event["step"], description="end: " + "  ".join(parts))

    return on_event


def generation_line(generation: dict) -> str:
    """One line on how rollouts were generated and, for vLLM, exactly which checks ran and what they found."""
    if generation.get("backend") != "vllm":
        return "transformers generate"
    checks = generation.get("checks") or {}
    line = f"vLLM {generation.get('vllm_version')} ({generation.get('vllm_mode')}, engine {generation.get('engine_dtype')})"
    if generation.get("fault"):
        line += f"; LMMR1_VLLM_FAULT={generation['fault']} (a fix undone on purpose)"
    if not checks:
        return line + "; no rollout checks"
    failures = checks.get("failures") or []
    verdict = "failed" if failures else "passed"
    line += (
        f"; rollout checks {verdict} on {checks['rollouts_checked']} rollouts (prompt ids compared, largest mean "
        f"logprob gap {checks['largest_mean_logp_gap']:.3f}, tolerance {checks['logp_gap_tolerance']:g})"
    )
    if checks.get("weights_not_compared"):
        return line + f"; engine weights not compared ({checks['weights_not_compared']})"
    if not checks.get("weight_checks"):
        return line + "; engine weights not compared (no check ran)"
    tensors, elements = checks.get("weight_tensors_compared", 0), checks.get("weight_elements_compared", 0)
    what = f"every pushed tensor, {tensors:,} tensors / {elements:,} elements a check"
    if failures or checks.get("weight_max_abs_diff"):
        return line + f"; engine weights read back at {checks['weight_checks']} checks ({what})"
    return line + f"; engine weights equal to the trainer's at {checks['weight_checks']} checks ({what})"


def _number(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _summary_table(summary: dict) -> Table:
    title = f"{summary['stage'].upper()} run: {summary['run_dir']}"
    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    for name in ("reward", "accuracy", "format"):
        table.add_row(name, _number(summary.get(f"{name}_start"), 3), _number(summary.get(f"{name}_end"), 3))
    table.add_row("steps", "", str(summary["steps"]))
    table.add_row("seconds/step", "", _number(summary.get("seconds_per_step"), 2))
    return table
