"""Options more than one command takes, declared once so their names, help and defaults cannot drift.

A command writes `force: ForceOpt = False`; a required option has no default (`data: DataOpt`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# ---------------------------------------------------------------- every command
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON on stdout instead of tables.")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output instead of refusing.")]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Print the fully resolved config (training: also the GRPOConfig and accelerate command); "
        "write nothing.",
    ),
]
OutDirOpt = Annotated[
    Path, typer.Option("-o", "--out", help="Output dir (written atomically; an existing one needs --force).")
]
# A new dataset dir (prepare-data, mix-data): required to write one; the help says so, since prepare-data's
# --list and --dry-run need none and typer can only mark an option without a default as [required].
DatasetOutOpt = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--out",
        help="Output dataset dir, required (written atomically; an existing one needs --force).",
        show_default=False,
    ),
]

# ---------------------------------------------------------------- models and images (eval, export, prepare-data)
DtypeOpt = Annotated[
    str | None, typer.Option("--dtype", help="float32, bfloat16 or float16 (default: the model's own).")
]
MinPixelsOpt = Annotated[
    int | None, typer.Option("--min-pixels", help="Image pixel lower bound (default: the processor's).")
]
MaxPixelsOpt = Annotated[
    int | None, typer.Option("--max-pixels", help="Image pixel upper bound (default: the processor's).")
]

# ---------------------------------------------------------------- train-fre and train-mgt
DataOpt = Annotated[Path, typer.Option("--data", help="Prepared dataset dir (from `lmmr1 prepare-data`).")]
RunDirOpt = Annotated[
    Path, typer.Option("-o", "--out", help="Run dir: checkpoints/, final/, metrics.jsonl, run.json.")
]
ConfigFileOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML file with config sections; overrides the recipe.")
]
OverridesArg = Annotated[
    list[str] | None,
    typer.Argument(help="key=value overrides, e.g. optim.learning_rate=1e-6 run.max_steps=100"),
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue from the run's newest complete checkpoint with the config run.json recorded (a finished "
        "run is left as it is, exit 0).",
    ),
]
AllowConfigChangeOpt = Annotated[
    bool,
    typer.Option(
        "--allow-config-change",
        help="With --resume: accept changed run length, save/log cadence, vLLM placement or verify timeout "
        "(run.json records each segment); model, data, batch, algorithm and optimizer changes are refused.",
    ),
]
NumProcessesOpt = Annotated[
    int,
    typer.Option("--num-processes", min=1, help="Processes (GPUs); > 1 re-launches under accelerate."),
]
AccelerateConfigOpt = Annotated[
    str | None,
    typer.Option("--accelerate-config", help="zero2, zero3, fsdp, ddp, or an accelerate YAML file."),
]
EvalDataOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--eval-data",
        help="Held-out dataset dir to evaluate during training, NAME=DIR or DIR (repeatable); every "
        "eval.every_rollouts rollouts, greedy as `lmmr1 eval`; the best model goes to RUN/best/ (RUN@best).",
    ),
]
UseVllmOpt = Annotated[
    bool,
    typer.Option(
        "--use-vllm",
        help="Generate rollouts with vLLM (GPU build, or vLLM's CPU build in .venv-vllm: `make setup-vllm`).",
    ),
]
VllmModeOpt = Annotated[
    str | None,
    typer.Option("--vllm-mode", help="colocate or server (with `trl vllm-serve` on another node)."),
]
EmitSbatchOpt = Annotated[
    tuple[int, int] | None,
    typer.Option(
        "--emit-sbatch",
        help="Write OUT.sbatch for SLURM: N_NODES GPUS_PER_NODE (+1 vLLM node in server mode).",
    ),
]
SlurmTimeOpt = Annotated[
    str | None, typer.Option("--time", help="With --emit-sbatch: the job's time limit (#SBATCH --time).")
]
SlurmPartitionOpt = Annotated[
    str | None, typer.Option("--partition", help="With --emit-sbatch: the SLURM partition to submit to.")
]
SlurmCpusOpt = Annotated[
    int | None,
    typer.Option(
        "--cpus-per-task", min=1, help="With --emit-sbatch: CPUs per node's task (default: 8 per GPU)."
    ),
]
