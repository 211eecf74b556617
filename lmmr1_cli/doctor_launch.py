"""`lmmr1 doctor --recipe R ...`: can this training launch start here?

`launch_report()` calls the very checks `lmmr1 train-*` runs before it loads anything (config resolution, the
accelerate command, the engine's and vLLM's availability, train_plan.check_before_training), so the doctor and a
launch cannot disagree.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from lmmr1_cli.errors import Lmmr1Error


def launch_report(
    recipe: str,
    num_processes: int = 1,
    accelerate_config: str | None = None,
    use_vllm: bool = False,
    vllm_mode: str | None = None,
    data: Path | None = None,
    overrides: list[str] | None = None,
) -> dict:
    """Whether `lmmr1 train-* --recipe RECIPE --num-processes N --accelerate-config E [--use-vllm]` can start here.

    Runs, in a launch's order, the functions a launch runs before it loads a model: the config resolution, the
    accelerate command, the engine's availability, vLLM's (check_device's check), and with `data` the whole of
    train_plan.check_before_training. Every check runs even after one fails, so all problems are said at once."""
    from lmmr1_cli.config import load_train_config
    from lmmr1_cli.train_plan import TrainRequest, check_before_training, resolve_config

    checks: list[dict] = []
    config = _run_check(checks, "recipe", lambda: load_train_config(recipe, None, list(overrides or [])))
    stage = config.stage if config is not None else "fre"
    argv = _launch_argv(stage, recipe, num_processes, accelerate_config, use_vllm, vllm_mode, data, overrides)
    if config is None:
        return {"argv": argv, "checks": checks, "ok": False}
    request = TrainRequest(
        stage=config.stage,
        recipe=recipe,
        data=Path(data) if data is not None else Path("."),
        # A path that cannot exist, so the "run dir is not empty" check never fires: the doctor asks about the
        # machine, not about an output dir it was not given.
        out=Path(".lmmr1-doctor-no-such-run-dir"),
        argv=argv[1:],
        overrides=list(overrides or []),
        num_processes=num_processes,
        accelerate_config=accelerate_config,
        use_vllm=use_vllm,
        vllm_mode=vllm_mode,
    )
    config = _run_check(checks, "config", lambda: resolve_config(request))
    if config is None:
        return {"argv": argv, "checks": checks, "ok": False}
    _run_check(checks, "launch command", lambda: request.launch_command)
    _run_check(checks, "engine", lambda: _check_engine(accelerate_config))
    if config.rollout.use_vllm:
        _run_check(checks, "vllm", lambda: _check_vllm(config.rollout.vllm_mode))
    if data is not None:
        _run_check(checks, "before training", lambda: check_before_training(request, config))
    else:
        _run_check(checks, "batch split", lambda: _check_batch_split(config, num_processes))
        checks.append(
            {"name": "data", "ok": True, "detail": "not checked: pass --data DIR to check a dataset too"}
        )
    return {"argv": argv, "checks": checks, "ok": all(check["ok"] for check in checks)}


def _launch_argv(
    stage, recipe, num_processes, accelerate_config, use_vllm, vllm_mode, data, overrides
) -> list:
    """The launch being asked about, as a user would type it (for the report)."""
    argv = ["lmmr1", f"train-{stage}", "--recipe", recipe, "--num-processes", str(num_processes)]
    argv += ["--accelerate-config", accelerate_config] if accelerate_config else []
    argv += ["--use-vllm"] if use_vllm else []
    argv += ["--vllm-mode", vllm_mode] if vllm_mode else []
    argv += ["--data", str(data)] if data is not None else []
    return argv + list(overrides or [])


def _run_check(checks: list[dict], name: str, check):
    try:
        result = check()
    except Lmmr1Error as exc:
        checks.append({"name": name, "ok": False, "detail": " ".join(str(exc).split())})
        return None
    checks.append({"name": name, "ok": True, "detail": "ok"})
    return result if result is not None else True


def _check_engine(accelerate_config: str | None) -> None:
    """The engine check a launch runs (engines.check_engine_available), then the one thing it leaves to the
    launched processes: that DeepSpeed, when the config runs it, really imports (an installed but broken DeepSpeed
    fails them all, after the models load)."""
    from lmmr1_cli.engines import check_engine_available
    from lmmr1_cli.errors import EnvironmentMissingError
    from lmmr1_cli.launch import accelerate_config_path

    spec = check_engine_available(accelerate_config_path(accelerate_config) if accelerate_config else None)
    if spec is None or spec.kind != "deepspeed":
        return
    try:
        importlib.import_module("deepspeed")
    except Exception as exc:  # a broken DeepSpeed fails in many ways
        raise EnvironmentMissingError(
            f"--accelerate-config {accelerate_config} runs DeepSpeed, which is installed but does not import here "
            f"({type(exc).__name__}: {_first_line(exc)}): pip install --force-reinstall 'lmmr1[deepspeed]'"
        ) from exc


def _check_vllm(mode: str) -> None:
    """train.check_device's vLLM check, with this machine's CUDA."""
    import torch

    from lmmr1_cli.vllm_engine import check_vllm_request

    check_vllm_request(mode, torch.cuda.is_available())


def _check_batch_split(config, num_processes: int) -> None:
    """check_before_training's batch check, for a doctor run without --data."""
    from lmmr1_cli.batching import trl_layout

    trl_layout(config.batch.shape(), num_processes)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
