"""A stage recipe becomes a TRL GRPOTrainer run: config mapping, dataset, rewards, resume and the FRE -> MGT handoff.

The run dir it writes (checkpoints/, final/, metrics.jsonl, run.json, summary.json) is described in rundir.py.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmmr1_cli.atomic import write_json_atomic
from lmmr1_cli.batching import plan_run, require_one_rollout, trl_layout
from lmmr1_cli.config import TrainConfig
from lmmr1_cli.engines import engine_in_use, prepare_process
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.launch import is_main_process, world_size
from lmmr1_cli.lineage import append_segment, check_resume, write_lineage
from lmmr1_cli.modeling import resolve_model
from lmmr1_cli.run_metrics import metrics_callback, summarize_metrics
from lmmr1_cli.rundir import (
    CHECKPOINTS_DIR,
    METRICS_FILE,
    SUMMARY_FILE,
    TRAINER_STATE_FILE,
    checkpoint_step,
    clear_run_dir,
    finished_summary,
    last_checkpoint,
    prepare_run_dir,
    save_final,
)
from lmmr1_cli.train_data import check_training_data
from lmmr1_cli.validation import check_validation, start_validation
from lmmr1_cli.vllm_engine import check_vllm_request, grpo_vllm_arguments

ProgressFn = Callable[[dict], None]


def build_grpo_config(
    config: TrainConfig, run_dir: Path, num_processes: int = 1, use_cpu: bool | None = None
):
    """The TRL GRPOConfig a recipe maps to (pure: no model or device is touched)."""
    from trl import GRPOConfig

    layout = trl_layout(config.batch.shape(), num_processes)
    rollout, algorithm, optim, run = config.rollout, config.algorithm, config.optim, config.run
    cpu = config.run.use_cpu if use_cpu is None else use_cpu
    weights = [config.rewards.format_weight, config.rewards.accuracy_weight] + [1.0] * len(
        config.rewards.custom
    )
    # Half precision is compute only (autocast, or DeepSpeed's/FSDP's own policy): the weights AdamW updates stay
    # float32 (policy_load_dtype). bf16 autocast runs on CPU too, so a CPU run honours model.dtype=bfloat16.
    half = {
        "bf16": config.model.dtype == "bfloat16",
        "fp16": (not cpu) and config.model.dtype == "float16",
    }
    grpo = GRPOConfig(
        output_dir=str(Path(run_dir) / CHECKPOINTS_DIR),
        # optimizer and schedule
        learning_rate=optim.learning_rate,
        adam_beta1=optim.adam_beta1,
        adam_beta2=optim.adam_beta2,
        weight_decay=optim.weight_decay,
        lr_scheduler_type=optim.lr_scheduler,
        lr_scheduler_kwargs={"min_lr_rate": optim.min_lr_ratio}
        if optim.lr_scheduler == "cosine_with_min_lr"
        else {},
        warmup_steps=optim.warmup_ratio,  # transformers 5 takes a ratio here when the value is < 1
        max_grad_norm=optim.max_grad_norm,
        # batch: one generation per rollout, feeding rollout / samples_per_step optimizer steps (batching.py)
        per_device_train_batch_size=layout.per_device_train_batch_size,
        gradient_accumulation_steps=layout.gradient_accumulation_steps,
        generation_batch_size=layout.generation_batch_size,
        num_generations=layout.num_generations,
        num_iterations=layout.num_iterations,
        num_train_epochs=layout.num_train_epochs,
        # rollout
        temperature=rollout.temperature,
        top_p=rollout.top_p,
        max_completion_length=rollout.max_completion_length,
        # algorithm
        beta=algorithm.kl_coef,
        epsilon=algorithm.clip_eps,
        scale_rewards=algorithm.scale_rewards,
        loss_type=algorithm.loss_type,
        reward_weights=weights,
        # run
        max_steps=run.max_steps,
        save_strategy="steps",
        # OpenRLHF's --save_steps counts rollouts; TRL's counts optimizer steps. Saving on rollout boundaries also
        # means a resumed run never starts inside a rollout.
        save_steps=run.save_every_rollouts * layout.optimizer_steps_per_rollout * layout.num_iterations,
        save_total_limit=run.save_total_limit,
        logging_steps=run.logging_steps,
        seed=run.seed,
        data_seed=run.seed,
        report_to=run.report_to or "none",
        use_cpu=cpu,
        # transformers checks half precision against the local device; a dry run on a CPU login node describes
        # the GPU job, so the flags are set after that check and TRL validates them again on the GPU node.
        bf16=half["bf16"] and (cpu or _has_cuda()),
        fp16=half["fp16"] and _has_cuda(),
        gradient_checkpointing=config.model.gradient_checkpointing,
        # Only the reference model is built from a path (we load the policy ourselves); it must match dtype.
        model_init_kwargs={"dtype": config.model.dtype},
        disable_tqdm=True,
        **grpo_vllm_arguments(rollout, cpu),
    )
    grpo.bf16, grpo.fp16 = half["bf16"], half["fp16"]
    # GRPOConfig derives steps_per_generation from the world size of *this* process (1 in a dry run describing
    # N processes); on the N launched processes it derives this same number.
    grpo.steps_per_generation = layout.steps_per_generation
    return grpo


def policy_load_dtype(config: TrainConfig) -> str:
    """The dtype the trained weights load in: float32 whenever they are updated (master weights), whatever the
    compute precision. AdamW on bf16 weights loses every update below bf16's resolution: at the paper's lr 4e-7,
    3 steps changed 127 language-model weight elements of the tiny model against 118,456 in float32. A LoRA run
    trains float32 adapters (PEFT casts them) over frozen base weights, which can stay in the compute dtype."""
    if config.model.lora_r > 0:
        return config.model.dtype
    return "float32"


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def build_train_dataset(data_dir: Path, system_prompt: str, limit: int | None = None):
    """TRL rows: a conversational `prompt` with image placeholders, `images`, and the verifier's columns."""
    from datasets import Dataset, Image, Sequence

    from lmmr1_cli.data.dataset import image_paths, load_rows
    from lmmr1_cli.prompts import build_conversation, resolve_system_prompt

    rows = load_rows(data_dir, limit=limit)
    multimodal = any(row.get("images") for row in rows)
    records = []
    for row in rows:
        paths = image_paths(data_dir, row)
        record = {
            "id": str(row["id"]),
            "prompt": build_conversation(
                row["problem"], len(paths), resolve_system_prompt(system_prompt, row.get("system"))
            ),
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


def drop_over_long_prompts(dataset, processor, max_tokens: int | None):
    """(dataset without prompts over `max_tokens`, how many were dropped), counted as the processor will feed them:
    chat template, system message, and each image's tokens at the training pixel bounds.

    OpenRLHF truncates such prompts (`--prompt_max_len`), which can cut image tokens away from their pixels; lmmr1
    drops the rows instead and says how many in summary.json.
    """
    if max_tokens is None:
        return dataset, 0
    from PIL import Image as PILImage

    from lmmr1_cli.data.images import PixelBounds
    from lmmr1_cli.data.validate import PromptMeter

    meter, bounds = PromptMeter(processor), PixelBounds.from_processor(processor)
    if "images" in dataset.column_names:
        # The stored paths, read from the Arrow table: the image headers give the sizes, no pixel is decoded.
        images = [[image["path"] for image in row] for row in dataset.data.column("images").to_pylist()]
    else:
        images = [[]] * len(dataset)
    keep = []
    for index, (messages, row_images) in enumerate(zip(dataset["prompt"], images, strict=True)):
        sizes = []
        for image in row_images:
            with PILImage.open(image) as opened:
                sizes.append(bounds.target_size(*opened.size))
        if meter.count_messages(messages, sizes) <= max_tokens:
            keep.append(index)
    dropped = len(dataset) - len(keep)
    return (dataset.select(keep) if dropped else dataset), dropped


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


def check_device(config: TrainConfig) -> None:
    """CPU runs get use_cpu; --use-vllm without vLLM (or server mode without CUDA) fails here, before loading."""
    import torch

    has_cuda = torch.cuda.is_available()
    if not has_cuda:
        config.run.use_cpu = True
    if config.rollout.use_vllm:
        check_vllm_request(config.rollout.vllm_mode, has_cuda)


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

    from lmmr1_cli.grpo_trainer import MixedModalGRPOTrainer
    from lmmr1_cli.modeling import load_model, load_processor
    from lmmr1_cli.rewards import load_reward_function, reward_functions

    model_config = config.model
    torch.manual_seed(config.run.seed)
    # Before GRPOConfig: the launched engine's settings must agree with the recipe (engines.py).
    prepare_process(model_config.dtype, cpu=config.run.use_cpu)
    args = build_grpo_config(config, run_dir, num_processes=world_size())
    processor = load_processor(
        model_config.name_or_path,
        model_config.min_pixels,
        model_config.max_pixels,
        model_config.trust_remote_code,
    )
    dtype = policy_load_dtype(config)
    model = load_model(
        model_config.name_or_path, dtype=dtype, trust_remote_code=model_config.trust_remote_code
    )
    if resume_from is not None and model_config.lora_r <= 0:
        # transformers' resume loads checkpoint weights with a raw non-strict load_state_dict, which matches no
        # key of Qwen2.5-VL in transformers 5 (checkpoints are saved with legacy key names) and silently keeps the
        # initial weights. from_pretrained maps the names; the reference model must stay the init model.
        reference_path = model.config._name_or_path
        model = load_model(str(resume_from), dtype=dtype, trust_remote_code=model_config.trust_remote_code)
        model.config._name_or_path = reference_path
    if model_config.freeze_vision_tower:
        _freeze_vision_tower(model)
    dataset = build_train_dataset(data_dir, model_config.system_prompt, limit=config.run.limit_train_rows)
    dataset, _ = drop_over_long_prompts(dataset, processor, config.rollout.prompt_max_len)
    require_one_rollout(config.batch.shape(), len(dataset))
    reward_funcs = reward_functions(config.rewards.mode, config.rewards.verify_timeout)
    reward_funcs += [load_reward_function(spec) for spec in config.rewards.custom]
    trainer = MixedModalGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=callbacks,
        peft_config=_peft_config(config),
        rollout_config=config.rollout,
    )
    # With tqdm off, transformers prints every log dict; metrics.jsonl and our progress bar replace it.
    trainer.remove_callback(PrinterCallback)
    return trainer


def _shape_summary(config: TrainConfig, data_dir: Path, trainer) -> dict[str, Any]:
    """The run's shape as trained: rows kept after the prompt-length cap, and the plan they gave."""
    from lmmr1_cli.data.dataset import load_manifest

    available = int(load_manifest(data_dir)["counts"]["kept"])
    if config.run.limit_train_rows is not None:
        available = min(available, config.run.limit_train_rows)
    rows = len(trainer.train_dataset)
    plan = plan_run(
        config.batch.shape(),
        trainer.accelerator.num_processes,
        rows,
        max_steps=config.run.max_steps,
        warmup_ratio=config.optim.warmup_ratio,
        save_every_rollouts=config.run.save_every_rollouts,
    )
    return {
        "training_rows": rows,
        "prompts_over_max_len": available - rows,
        "optimizer_steps_per_rollout": plan.optimizer_steps_per_rollout,
        "planned_steps": plan.optimizer_steps,
    }


def checkpoint_reached_the_end(checkpoint: Path, max_steps: int) -> bool:
    """Whether `checkpoint` already holds the run's last step (`max_steps`, or the planned total when it is -1)."""
    state = json.loads((Path(checkpoint) / TRAINER_STATE_FILE).read_text(encoding="utf-8"))
    target = max_steps if max_steps > 0 else state.get("max_steps", 0)
    return target > 0 and state.get("global_step", 0) >= target


def finish_from_checkpoint(trainer, checkpoint: Path, lora: bool) -> None:
    """Take a finished checkpoint as the trained state, without training.

    A run killed after its last checkpoint but before final/ is written: transformers checks max_steps only after
    an optimizer step, so resuming it would train one step past the end (measured: checkpoint-4 -> step 5).
    """
    from transformers import TrainerState

    if lora:
        # Full models were loaded from the checkpoint by build_trainer; adapters are loaded here, as train() would.
        trainer._load_from_checkpoint(str(checkpoint))
    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / TRAINER_STATE_FILE))


def _keep_failed_run(trainer, run_dir: Path, config: TrainConfig, resumed, exc) -> None:
    """A failed vLLM rollout check (decided on every rank together, so all are here): save the trainer's current
    weights as a normal checkpoint (a collective under ZeRO-3/FSDP) and write summary.json with the failure, so
    `--resume` continues from it once the cause is fixed."""
    saved = Path(trainer.args.output_dir) / f"checkpoint-{trainer.state.global_step}"
    exists = saved.is_dir()  # saved at this very step already (or resumed from it)
    trainer.accelerator.wait_for_everyone()  # every rank has looked before rank 0 starts writing it
    if not exists:
        trainer._save_checkpoint(trainer.model_wrapped, trial=None)
    if trainer.accelerator.is_main_process:
        summary = {
            "stage": config.stage,
            "recipe": config.recipe,
            "run_dir": str(run_dir),
            "failed": str(exc),
            "exit_code": exc.exit_code,
            "checkpoint": str(saved),
            "steps": trainer.state.global_step,
            "resumed_from": str(resumed) if resumed else None,
            "world_size": trainer.accelerator.num_processes,
            "generation": trainer.generation_summary(),
            **summarize_metrics(run_dir / METRICS_FILE),
        }
        write_json_atomic(run_dir / SUMMARY_FILE, summary)


def train_stage(
    config: TrainConfig,
    data_dir: Path,
    run_dir: Path,
    *,
    init: str | None = None,
    resume: bool = False,
    force: bool = False,
    allow_config_change: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Run one stage (FRE or MGT) to completion and return its summary (also written to summary.json).

    `config` is not changed: the stage works on a copy (`init` and the CPU fallback apply to the copy).
    `resume` continues the run's newest checkpoint with the config it recorded (lineage.check_resume; with
    `allow_config_change`, the safe keys may differ); a finished run is returned as it is, with
    `already_complete: True`. `force` replaces an existing run only once the new model and data have loaded.
    """
    run_dir = Path(run_dir)
    data_dir = Path(data_dir)
    from lmmr1_cli.data.dataset import load_rows

    load_rows(data_dir, limit=1)  # fail on a bad data dir before touching the output dir
    config = copy.deepcopy(config)
    if init is not None:
        config.model.name_or_path = init
    resolved_init = resolve_model(config.model.name_or_path).location
    changes = check_resume(run_dir, config, data_dir, allow_config_change) if resume else {}
    finished = finished_summary(run_dir, config.run.max_steps) if resume else None
    if finished is not None:
        return {**finished, "already_complete": True}  # a requeued job: nothing to train, nothing rewritten
    check_training_data(data_dir, config)
    eval_sets = check_validation(config)
    check_device(config)
    created = not run_dir.exists()
    replacing = force and not resume and not created and any(run_dir.iterdir())
    # Before the trainer (and its accelerator) exists, the launcher's rank environment says who owns the run dir.
    if is_main_process():
        checkpoint = prepare_run_dir(run_dir, force=force, resume=resume)
    else:
        # Other ranks never touch the run dir before the trainer exists: rank 0 may be replacing it (--force).
        checkpoint = last_checkpoint(run_dir) if resume else None

    metrics_path = run_dir / METRICS_FILE
    callback = metrics_callback(metrics_path, progress=progress, resume_step=checkpoint_step(checkpoint))
    validator, validating = start_validation(
        config, eval_sets, run_dir, progress, resuming=checkpoint is not None
    )
    try:
        trainer = build_trainer(
            config, data_dir, run_dir, callbacks=[callback, *([validating] if validating else [])],
            resume_from=checkpoint,
        )  # fmt: skip
        if validating:
            validating.trainer = trainer
    except BaseException:
        # A bad model, reward file or data row found while assembling: leave no empty run dir behind.
        if created and is_main_process():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    main_process = trainer.accelerator.is_main_process
    if main_process and replacing:
        clear_run_dir(run_dir)  # --force: the old run goes only now that the new one has loaded
    trained_out = checkpoint is not None and checkpoint_reached_the_end(checkpoint, config.run.max_steps)
    if main_process and checkpoint is not None:
        if not trained_out:  # a resume that trains nothing adds no segment
            append_segment(run_dir, config, checkpoint_step(checkpoint), changes)
    elif main_process:
        write_lineage(
            run_dir,
            config,
            data_dir=data_dir,
            init_model=config.model.name_or_path,
            resolved_init=resolved_init,
        )
    started = time.time()
    try:
        if trained_out:
            finish_from_checkpoint(trainer, checkpoint, lora=config.model.lora_r > 0)
        else:
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except BaseException as exc:
        from lmmr1_cli.vllm_engine import RolloutConsistencyError

        if isinstance(exc, RolloutConsistencyError):
            # vLLM is the faulty side, the trainer the healthy one: keep its weights as a resumable checkpoint.
            _keep_failed_run(trainer, run_dir, config, checkpoint, exc)
            raise
        # Failed before its first checkpoint (a reward function that raises, a crash in step 1): there is nothing
        # to resume, so leave no run dir that would make the rerun ask for --force.
        if main_process and (created or replacing) and last_checkpoint(run_dir) is None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    wall = time.time() - started
    # Every rank: saving a sharded model (ZeRO-3, FSDP) gathers it, a collective; rank 0 alone writes final/.
    final = save_final(trainer, run_dir)
    summary = {
        "stage": config.stage,
        "recipe": config.recipe,
        "run_dir": str(run_dir),
        "final_model": str(final),
        "steps": trainer.state.global_step,
        "resumed_from": str(checkpoint) if checkpoint else None,
        "wall_seconds": round(wall, 2),
        "world_size": trainer.accelerator.num_processes,
        "engine": engine_in_use(trainer.accelerator, trainer.model_wrapped),
        "vision_sync": trainer.vision_sync_summary(),
        "verifier_workers_per_rank": trainer.verifier_workers_per_rank(),
        "generation": trainer.generation_summary(),
        **_shape_summary(config, data_dir, trainer),
        **summarize_metrics(metrics_path),
    }
    if validator is not None:
        summary["validation"] = validator.summary()
    if main_process:
        write_json_atomic(run_dir / SUMMARY_FILE, summary)
    if trainer.accelerator.num_processes > 1:
        # All ranks leave the process group together. Left to interpreter exit, the gloo group's teardown aborted
        # a rank of a finished 2-process run once in CI ("terminate called without an active exception", SIGABRT).
        trainer.accelerator.wait_for_everyone()
        if config.rollout.use_vllm:
            from lmmr1_cli.vllm_engine import shut_down_colocated_engine

            shut_down_colocated_engine(trainer)
        trainer.accelerator.end_training()
    return summary
