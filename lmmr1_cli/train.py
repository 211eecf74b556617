"""A stage recipe becomes a TRL GRPOTrainer run: config mapping, dataset, rewards, resume and the FRE -> MGT handoff.

Run dir layout: `checkpoints/checkpoint-N` (TRL), `final/` (model + processor, written atomically), `metrics.jsonl`
(one line per logged step), `run.json` (lineage), `summary.json` (what the CLI prints).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmmr1_cli.config import TrainConfig, config_to_dict
from lmmr1_cli.errors import ConfigError, EnvironmentMissingError, OutputExistsError
from lmmr1_cli.lineage import write_lineage
from lmmr1_cli.modeling import RUN_CHECKPOINTS, RUN_FINAL, last_checkpoint, resolve_model_ref
from lmmr1_cli.run_metrics import MetricsCallback, summarize_metrics

ProgressFn = Callable[[dict], None]


def per_device_layout(config: TrainConfig, num_processes: int) -> tuple[int, int]:
    """(per_device_train_batch_size, gradient_accumulation_steps) giving the recipe's global batch.

    The paper's global batch is prompts_per_step x num_generations completions per optimizer step; each process
    takes micro_batch_size completions per forward and accumulates the rest.
    """
    r = config.rollout
    global_completions = r.prompts_per_step * r.num_generations
    per_step = r.micro_batch_size * num_processes
    if global_completions % per_step:
        raise ConfigError(
            f"rollout.prompts_per_step x rollout.num_generations = {global_completions} completions is not divisible "
            f"by rollout.micro_batch_size x processes = {r.micro_batch_size} x {num_processes}"
        )
    return r.micro_batch_size, global_completions // per_step


def build_grpo_config(
    config: TrainConfig, run_dir: Path, num_processes: int = 1, use_cpu: bool | None = None
):
    """The TRL GRPOConfig a recipe maps to (pure: no model or device is touched)."""
    from trl import GRPOConfig

    micro, accumulation = per_device_layout(config, num_processes)
    r, a, o, run = config.rollout, config.algorithm, config.optim, config.run
    cpu = config.run.use_cpu if use_cpu is None else use_cpu
    weights = [config.rewards.format_weight, config.rewards.accuracy_weight] + [1.0] * len(
        config.rewards.custom
    )
    vllm = {}
    if r.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": r.vllm_mode,
            "vllm_tensor_parallel_size": r.vllm_tensor_parallel_size,
        }
        if r.vllm_mode == "colocate":
            vllm["vllm_gpu_memory_utilization"] = r.vllm_gpu_memory_utilization
            vllm["vllm_enable_sleep_mode"] = r.vllm_enable_sleep_mode
        else:
            vllm["vllm_server_host"] = r.vllm_server_host
            vllm["vllm_server_port"] = r.vllm_server_port
    half = {
        "bf16": (not cpu) and config.model.dtype == "bfloat16",
        "fp16": (not cpu) and config.model.dtype == "float16",
    }
    grpo = GRPOConfig(
        output_dir=str(Path(run_dir) / RUN_CHECKPOINTS),
        # optimizer and schedule
        learning_rate=o.learning_rate,
        adam_beta1=o.adam_beta1,
        adam_beta2=o.adam_beta2,
        weight_decay=o.weight_decay,
        lr_scheduler_type=o.lr_scheduler,
        lr_scheduler_kwargs={"min_lr_rate": o.min_lr_ratio} if o.lr_scheduler == "cosine_with_min_lr" else {},
        warmup_steps=o.warmup_ratio,  # transformers 5 takes a ratio here when the value is < 1
        max_grad_norm=o.max_grad_norm,
        # batch: one generation round and one optimizer step per rollout batch
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        num_generations=r.num_generations,
        # rollout
        temperature=r.temperature,
        top_p=r.top_p,
        max_completion_length=r.max_completion_length,
        # algorithm
        beta=a.kl_coef,
        epsilon=a.clip_eps,
        scale_rewards=a.scale_rewards,
        loss_type=a.loss_type,
        num_iterations=a.num_iterations,
        reward_weights=weights,
        # run
        max_steps=run.max_steps,
        num_train_epochs=run.num_epochs,
        save_strategy="steps",
        save_steps=run.save_steps,
        save_total_limit=run.save_total_limit,
        logging_steps=run.logging_steps,
        seed=run.seed,
        data_seed=run.seed,
        report_to=run.report_to or "none",
        use_cpu=cpu,
        # transformers checks half precision against the local device; a dry run on a CPU login node describes
        # the GPU job, so the flags are set after that check and TRL validates them again on the GPU node.
        bf16=half["bf16"] and _has_cuda(),
        fp16=half["fp16"] and _has_cuda(),
        gradient_checkpointing=config.model.gradient_checkpointing,
        # Only the reference model is built from a path (we load the policy ourselves); it must match dtype.
        model_init_kwargs=None if cpu else {"dtype": config.model.dtype},
        disable_tqdm=True,
        **vllm,
    )
    grpo.bf16, grpo.fp16 = half["bf16"], half["fp16"]
    return grpo


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def build_train_dataset(data_dir: Path, system_prompt: str, limit: int | None = None):
    """TRL rows: a conversational `prompt` with image placeholders, `images`, and the verifier's columns."""
    from datasets import Dataset, Image, Sequence

    from lmmr1_cli.data.dataset import image_paths, load_rows
    from lmmr1_cli.prompts import build_conversation

    rows = load_rows(data_dir, limit=limit)
    multimodal = any(row.get("images") for row in rows)
    records = []
    for row in rows:
        paths = image_paths(data_dir, row)
        record = {
            "id": str(row["id"]),
            "prompt": build_conversation(row["problem"], len(paths), system_prompt),
            "answer": str(row["answer"]),
            "answer_type": row.get("answer_type") or "math",
            "choices": row.get("choices"),
        }
        if multimodal:
            record["images"] = [str(p) for p in paths]
        records.append(record)
    dataset = Dataset.from_list(records)
    if multimodal:
        # Decoded lazily per batch, so host RAM holds paths, not pixels.
        dataset = dataset.cast_column("images", Sequence(Image()))
    return dataset


def _freeze_vision_tower(model) -> int:
    inner = getattr(model, "model", model)
    tower = getattr(inner, "visual", None) or getattr(model, "visual", None)
    if tower is None:
        raise ConfigError("model.freeze_vision_tower: this model has no `visual` module to freeze")
    count = 0
    for param in tower.parameters():
        param.requires_grad_(False)
        count += param.numel()
    return count


def _peft_config(config: TrainConfig):
    if config.model.lora_r <= 0:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.model.lora_r,
        lora_alpha=config.model.lora_alpha,
        lora_dropout=config.model.lora_dropout,
        target_modules=config.model.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def prepare_run_dir(run_dir: Path, force: bool, resume: bool) -> Path | None:
    """Check the output dir; returns the checkpoint to resume from, if any."""
    run_dir = Path(run_dir)
    if resume:
        checkpoint = last_checkpoint(run_dir)
        if checkpoint is None:
            raise ConfigError(f"--resume: no complete checkpoint under {run_dir / RUN_CHECKPOINTS}")
        return checkpoint
    if run_dir.exists() and any(run_dir.iterdir()):
        if not force:
            raise OutputExistsError(
                f"{run_dir}: output dir exists and is not empty (pass --force to replace it)"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return None


def check_device(config: TrainConfig) -> None:
    """CPU runs get use_cpu; vLLM asks for CUDA and says so plainly when it is missing."""
    import torch

    has_cuda = torch.cuda.is_available()
    if not has_cuda:
        config.run.use_cpu = True
    if config.rollout.use_vllm:
        if not has_cuda:
            raise EnvironmentMissingError(
                "--use-vllm needs a CUDA GPU (none found); drop it to generate with transformers on this machine"
            )
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise EnvironmentMissingError("--use-vllm needs vLLM: pip install 'lmmr1[vllm]'") from None


def build_trainer(
    config: TrainConfig,
    data_dir: Path,
    run_dir: Path,
    callbacks: list | None = None,
    resume_from: Path | None = None,
):
    """Model, processor, dataset and rewards assembled into a GRPOTrainer (nothing hidden)."""
    import torch
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOTrainer

    from lmmr1_cli.modeling import load_model, load_processor
    from lmmr1_cli.rewards import REWARD_FUNCTIONS, accuracy_reward_with_timeout, load_reward_function

    m = config.model
    torch.manual_seed(config.run.seed)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    args = build_grpo_config(config, run_dir, num_processes=world)
    processor = load_processor(m.name_or_path, m.min_pixels, m.max_pixels, m.trust_remote_code)
    dtype = "float32" if config.run.use_cpu else m.dtype
    model = load_model(m.name_or_path, dtype=dtype, trust_remote_code=m.trust_remote_code)
    if resume_from is not None and config.model.lora_r <= 0:
        # transformers' resume loads checkpoint weights with a raw non-strict load_state_dict, which matches no
        # key of Qwen2.5-VL in transformers 5 (checkpoints are saved with legacy key names) and silently keeps the
        # initial weights. from_pretrained maps the names; the reference model must stay the init model.
        reference_path = model.config._name_or_path
        model = load_model(str(resume_from), dtype=dtype, trust_remote_code=m.trust_remote_code)
        model.config._name_or_path = reference_path
    if m.freeze_vision_tower:
        _freeze_vision_tower(model)
    dataset = build_train_dataset(data_dir, m.system_prompt, limit=config.run.limit_train_rows)
    reward_funcs = [REWARD_FUNCTIONS["format"], accuracy_reward_with_timeout(config.rewards.verify_timeout)]
    reward_funcs += [load_reward_function(spec) for spec in config.rewards.custom]
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=callbacks,
        peft_config=_peft_config(config),
    )
    # With tqdm off, transformers prints every log dict; metrics.jsonl and our progress bar replace it.
    trainer.remove_callback(PrinterCallback)
    return trainer


def _save_final(trainer, run_dir: Path) -> Path:
    """Write final/ through a temp dir so a killed run never leaves a half model that --init would accept."""
    final = Path(run_dir) / RUN_FINAL
    staging = Path(run_dir) / f".{RUN_FINAL}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))
    trainer.processing_class.save_pretrained(str(staging))
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final


def train_stage(
    config: TrainConfig,
    data_dir: Path,
    run_dir: Path,
    *,
    init: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Run one stage (FRE or MGT) to completion and return its summary (also written to summary.json)."""
    run_dir = Path(run_dir)
    data_dir = Path(data_dir)
    from lmmr1_cli.data.dataset import load_rows

    load_rows(data_dir, limit=1)  # fail on a bad data dir before touching the output dir
    if init is not None:
        config.model.name_or_path = init
    resolved_init = resolve_model_ref(config.model.name_or_path)
    check_device(config)
    created = not run_dir.exists()
    if int(os.environ.get("RANK", "0")) == 0:
        checkpoint = prepare_run_dir(run_dir, force=force, resume=resume)
    else:
        # Other ranks never touch the run dir before the trainer exists: rank 0 may be replacing it (--force).
        checkpoint = last_checkpoint(run_dir) if resume else None

    metrics_path = run_dir / "metrics.jsonl"
    callback = MetricsCallback(metrics_path, progress=progress, resume_step=_checkpoint_step(checkpoint))
    try:
        trainer = build_trainer(config, data_dir, run_dir, callbacks=[callback], resume_from=checkpoint)
    except BaseException:
        # A bad model, reward file or data row found while assembling: leave no empty run dir behind.
        if created and int(os.environ.get("RANK", "0")) == 0:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if trainer.accelerator.is_main_process:
        write_lineage(
            run_dir,
            config,
            data_dir=data_dir,
            init_model=config.model.name_or_path,
            resolved_init=resolved_init,
        )
    started = time.time()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    wall = time.time() - started
    final = _save_final(trainer, run_dir) if trainer.accelerator.is_main_process else run_dir / RUN_FINAL
    summary = {
        "stage": config.stage,
        "recipe": config.recipe,
        "run_dir": str(run_dir),
        "final_model": str(final),
        "steps": trainer.state.global_step,
        "resumed_from": str(checkpoint) if checkpoint else None,
        "wall_seconds": round(wall, 2),
        "world_size": trainer.accelerator.num_processes,
        **summarize_metrics(metrics_path),
    }
    if trainer.accelerator.is_main_process:
        _write_json(run_dir / "summary.json", summary)
    return summary


def _checkpoint_step(checkpoint: Path | None) -> int | None:
    return int(checkpoint.name.split("-")[-1]) if checkpoint else None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def resolved_config_dict(config: TrainConfig) -> dict:
    return config_to_dict(config)
