"""A one-GPU micro-benchmark of the paper's FRE-Text shape: GRPO steps of Qwen2.5-VL-3B-Instruct, one JSON line.

A hand-written GRPO loop that shares no code with lmmr1's training; bench/gpu_smoke.py runs the real `lmmr1`
chain on a GPU. The model config, FLOP count and MFU come from bench/gpu_metrics.py, which both use.

Builds Qwen2.5-VL-3B-Instruct from its published config with random weights (no hub access needed), bfloat16,
gradient checkpointing, the fre-text recipe's group size and completion length, and times full GRPO steps:
generation (vLLM when it imports, else transformers `generate`), a reference forward for the KL term, the clipped
policy-gradient loss on group-normalised advantages, backward and an AdamW step. The rewards are random (a
random-weight model cannot answer anything): the step's cost does not depend on their values.

Needs only torch and transformers (no trl, datasets, math-verify or vllm; lmmr1_cli only for `--model tiny`).

    make gpu-check                                          # the recipe shape, 3 steps, stops by 480 s
    python3 bench/gpu_check.py --completion-len 1024 --steps 5   # a smaller shape
    python3 bench/gpu_check.py --model tiny --device cpu --steps 2 --completion-len 8 --group-size 4  # CPU smoke

Prints progress on stderr and, at the end (also after an error or the --max-seconds budget), one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

START = time.monotonic()
REPO = Path(__file__).resolve().parents[1]
# gpu_metrics.py sits beside this script and holds what gpu_smoke.py measures too (model, FLOPs, MFU).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_metrics import (  # noqa: E402
    FLOP_FORMULA,
    param_counts,
    qwen25_vl_3b_config,
    step_flops,
    text_config,
)
from gpu_metrics import peak_tflops as lookup_peak_tflops  # noqa: E402

QWEN25_VL_3B_CONFIG = qwen25_vl_3b_config()
RECIPE = REPO / "lmmr1_cli" / "recipes" / "fre-text.yaml"

# The fre-text recipe's values (train_fre_text.sh), used when the recipe file is not beside this script.
RECIPE_FALLBACK = {
    "samples_per_prompt": 16,
    "max_completion_length": 4096,
    "micro_batch_size": 2,
    "kl_coef": 0.001,
    "clip_eps": 0.2,
    "learning_rate": 4.0e-7,
    "adam_betas": (0.9, 0.95),
    "max_grad_norm": 1.0,
    "temperature": 1.0,
}

# DeepScaleR problems under the paper's R1 system prompt (~110 tokens) and Qwen's chat template are a few hundred
# tokens; the recipe's prompt_max_len 4096 is the length above which a prompt is dropped, not a typical length.
DEFAULT_PROMPT_LEN = 256


def log(message: str) -> None:
    print(f"[gpu_check {time.monotonic() - START:7.1f}s] {message}", file=sys.stderr, flush=True)


def recipe_shape() -> dict:
    """The fre-text recipe's group size, lengths and optimiser values (its YAML when present)."""
    shape = dict(RECIPE_FALLBACK)
    try:
        import yaml  # a transformers dependency

        recipe = yaml.safe_load(RECIPE.read_text())
    except (OSError, ImportError) as exc:
        log(f"recipe {RECIPE} not read ({exc}); using the fre-text values written in this script")
        return shape
    optim = recipe["optim"]
    shape.update(
        samples_per_prompt=recipe["batch"]["samples_per_prompt"],
        max_completion_length=recipe["rollout"]["max_completion_length"],
        micro_batch_size=recipe["batch"]["micro_batch_size"],
        kl_coef=recipe["algorithm"]["kl_coef"],
        clip_eps=recipe["algorithm"]["clip_eps"],
        learning_rate=optim["learning_rate"],
        adam_betas=(optim["adam_beta1"], optim["adam_beta2"]),
        max_grad_norm=optim["max_grad_norm"],
        temperature=recipe["rollout"]["temperature"],
    )
    return shape


def parse_args(argv: list[str] | None, recipe: dict) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default="qwen2.5-vl-3b", choices=["qwen2.5-vl-3b", "tiny"], help="random weights"
    )
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--steps", type=int, default=3, help="GRPO steps to time (each: generate + train)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=480.0,
        help="budget from start: no step is begun "
        "that the longest step so far says would end past it; the JSON line is printed anyway",
    )
    parser.add_argument(
        "--prompts", type=int, default=1, help="prompts per step (the recipe: 256 per rollout)"
    )
    parser.add_argument(
        "--group-size", type=int, default=recipe["samples_per_prompt"], help="completions per prompt"
    )
    parser.add_argument("--prompt-len", type=int, default=DEFAULT_PROMPT_LEN, help="prompt tokens")
    parser.add_argument(
        "--completion-len",
        type=int,
        default=recipe["max_completion_length"],
        help="completion tokens, all generated (EOS is suppressed)",
    )
    parser.add_argument("--micro-batch-size", type=int, default=recipe["micro_batch_size"])
    parser.add_argument(
        "--kl-coef", type=float, default=recipe["kl_coef"], help="0 skips the reference model"
    )
    parser.add_argument("--no-gradient-checkpointing", action="store_true")
    parser.add_argument(
        "--generator",
        default="auto",
        choices=["auto", "vllm", "hf"],
        help="auto: vLLM when it imports, else transformers generate",
    )
    parser.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.5)  # fre-text's value
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="dense bf16 peak for MFU; default: looked up from the GPU name (H200/H100 989)",
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    for name in ("steps", "prompts", "group_size", "prompt_len", "completion_len", "micro_batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def build_model(args: argparse.Namespace, torch, device):
    """Qwen2.5-VL built from its config with random weights, directly on `device` in the run's dtype."""
    from transformers import AutoConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if args.model == "tiny":
        sys.path.insert(0, str(REPO))  # the tree's lmmr1_cli, installed or not
        try:
            from lmmr1_cli.modeling import resolve_model
        except ImportError as exc:
            raise RuntimeError(f"--model tiny needs the lmmr1 package importable ({exc})") from exc
        config = AutoConfig.from_pretrained(resolve_model("tiny").location)
    elif args.model == "qwen2.5-vl-3b":
        config = Qwen2_5_VLConfig.from_dict(QWEN25_VL_3B_CONFIG)
    else:
        raise RuntimeError(f"--model {args.model!r}: expected qwen2.5-vl-3b or tiny")
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(args.seed)
    # Initialising on the GPU takes seconds; the same 3.75B-parameter init on the CPU takes minutes.
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    if not args.no_gradient_checkpointing:
        # transformers 5.2x renamed it; 5.17 (the GPU machine's) may only have the old name.
        enable = getattr(model, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def special_floor(config) -> int:
    """Token ids below every special token, so random prompts are ordinary text."""
    text = getattr(config, "text_config", config)
    ids = [
        text.vocab_size,
        getattr(config, "image_token_id", None),
        getattr(config, "vision_start_token_id", None),
    ]
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(text, key, None)
        ids.extend(value if isinstance(value, list) else [value])
    floor = min(i for i in ids if i is not None and i > 0)
    return floor


class HFGenerator:
    """transformers `generate`, sampling at the recipe's temperature to the full completion length."""

    name = "hf"

    def __init__(self, model, temperature: float):
        self.model, self.temperature = model, temperature

    def sync(self) -> None:  # generates with the trainer's own weights
        pass

    def generate(self, torch, prompt_ids, completion_len: int, max_time: float):
        self.model.eval()  # gradient checkpointing turns the KV cache off in train mode
        with torch.no_grad():
            out = self.model.generate(
                input_ids=prompt_ids,
                attention_mask=torch.ones_like(prompt_ids),
                do_sample=True,
                temperature=self.temperature,
                top_p=1.0,
                top_k=0,  # the recipe samples from the full distribution (HF's default top_k is 50)
                max_new_tokens=completion_len,
                min_new_tokens=completion_len,  # a random-weight model would stop at random; the recipe's length is wanted
                use_cache=True,
                max_time=max_time,
                pad_token_id=0,
            )
        self.model.train()
        return out[:, prompt_ids.shape[1] :]


class VLLMGenerator:
    """vLLM colocated on the training GPU, weights pushed from the trainer before each generation (as TRL does)."""

    def __init__(self, model, args: argparse.Namespace, temperature: float, workdir: Path):
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # keeps the engine in this process
        for key, value in {
            "RANK": "0",
            "LOCAL_RANK": "0",
            "WORLD_SIZE": "1",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29517",
        }.items():
            os.environ.setdefault(key, value)
        import vllm

        if args.device == "cpu":
            # vLLM's CPU build packs Linear weights into oneDNN and drops their weight loaders, so a weight push
            # fails (DESIGN.md, "Measured facts"); CUDA builds do not pack. Only for CPU smoke runs.
            import vllm._custom_ops

            vllm._custom_ops._supports_onednn = False
        self.name = f"vllm {vllm.__version__}"
        self.model, self.temperature = model, temperature
        # vLLM builds its engine from a model dir; sync() pushes the trainer's weights over these before each rollout.
        model.save_pretrained(workdir)
        self.llm = vllm.LLM(
            model=str(workdir),
            skip_tokenizer_init=True,
            dtype=args.dtype,
            gpu_memory_utilization=args.vllm_gpu_memory_utilization,
            max_model_len=args.prompt_len + args.completion_len,
            distributed_executor_backend="external_launcher",
            enable_prefix_caching=False,
            # Text-only rollouts (FRE-Text): no vision processor, which would need a tokenizer this run lacks.
            limit_mm_per_prompt={"image": 0, "video": 0},
            seed=args.seed,
        )
        self.sampling = vllm.SamplingParams

    def sync(self) -> None:
        engine_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        engine_model.load_weights(self.model.state_dict().items())
        self.llm.reset_prefix_cache()

    def generate(self, torch, prompt_ids, completion_len: int, max_time: float):
        params = self.sampling(
            temperature=self.temperature,
            top_p=1.0,
            max_tokens=completion_len,
            min_tokens=completion_len,
            ignore_eos=True,
            detokenize=False,
        )
        prompts = [{"prompt_token_ids": row} for row in prompt_ids.tolist()]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        rows = [list(o.outputs[0].token_ids) for o in outputs]
        width = min(len(r) for r in rows)
        return torch.tensor([r[:width] for r in rows], device=prompt_ids.device)


def pick_generator(args, model, temperature: float, workdir: Path) -> tuple[object, str | None]:
    """vLLM when asked or (auto) when it imports and a GPU is in use; transformers generate otherwise."""
    if args.generator == "hf" or (args.generator == "auto" and args.device == "cpu"):
        return HFGenerator(model, temperature), None
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything at import
        if args.generator == "vllm":
            raise RuntimeError(
                f"--generator vllm: vllm does not import ({type(exc).__name__}: {exc})"
            ) from exc
        return HFGenerator(model, temperature), f"{type(exc).__name__}: {exc}"
    return VLLMGenerator(model, args, temperature, workdir), None


def token_logps(torch, model, input_ids, completion_len: int):
    """Log-probabilities of the completion tokens; logits are upcast to float32 one row at a time."""
    logits = model(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        logits_to_keep=completion_len + 1,
        use_cache=False,
    ).logits[:, :-1]
    targets = input_ids[:, -completion_len:]
    rows = []
    for row_logits, row_targets in zip(logits, targets, strict=True):
        row_logits = row_logits.float()
        picked = row_logits.gather(-1, row_targets.unsqueeze(-1)).squeeze(-1)
        rows.append(picked - torch.logsumexp(row_logits, dim=-1))
    return torch.stack(rows)


def group_advantages(torch, rewards, group_size: int):
    """Reward minus its group's mean, over the batch's reward std (the recipe's scale_rewards: batch)."""
    grouped = rewards.view(-1, group_size)
    centred = (grouped - grouped.mean(dim=1, keepdim=True)).view(-1)
    return centred / (rewards.std() + 1e-4)


def train_on_rollout(torch, model, ref_model, optimizer, sequences, completion_len, advantages, args, recipe):
    """GRPO update on one rollout: clipped ratio x advantage, k3 KL to the reference, token mean per micro batch."""
    model.train()
    total = sequences.shape[0]
    loss_sum = 0.0
    for start in range(0, total, args.micro_batch_size):
        batch = sequences[start : start + args.micro_batch_size]
        adv = advantages[start : start + args.micro_batch_size].unsqueeze(1)
        logps = token_logps(torch, model, batch, completion_len)
        # One pass per rollout (the recipe's passes_per_rollout 1): the sampling policy is the current one, so
        # old log-probs are these, detached, and the ratio is 1 with a live gradient (what TRL does).
        ratio = torch.exp(logps - logps.detach())
        clipped = torch.clamp(ratio, 1 - recipe["clip_eps"], 1 + recipe["clip_eps"])
        per_token = -torch.min(ratio * adv, clipped * adv)
        if ref_model is not None:
            with torch.no_grad():
                ref_logps = token_logps(torch, ref_model, batch, completion_len)
            delta = ref_logps - logps
            per_token = per_token + args.kl_coef * (torch.exp(delta) - delta - 1)
        loss = per_token.mean() * batch.shape[0] / total
        loss.backward()
        loss_sum += loss.item()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), recipe["max_grad_norm"])
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum, float(grad_norm)


def peak_tflops(args, device_name: str) -> tuple[float | None, str]:
    return lookup_peak_tflops(args.peak_tflops, device_name)


def mean_or_none(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run_steps(torch, args, recipe, model, ref_model, generator, device) -> list[dict]:
    """The timed GRPO steps; stops before a step the budget cannot hold."""
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=recipe["learning_rate"],
        betas=recipe["adam_betas"],
        weight_decay=0.0,
        fused=device.type == "cuda",
    )
    sample_ids = torch.Generator().manual_seed(args.seed)
    floor = special_floor(model.config)
    group = args.group_size
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    steps: list[dict] = []
    for index in range(args.steps):
        elapsed = time.monotonic() - START
        if steps and elapsed + max(s["seconds"] for s in steps) > args.max_seconds:
            log(f"stopping before step {index}: {elapsed:.0f}s used, longest step would pass --max-seconds")
            break
        prompts = torch.randint(0, floor, (args.prompts, args.prompt_len), generator=sample_ids)
        prompt_ids = prompts.repeat_interleave(group, dim=0).to(
            device
        )  # a group shares its prompt (TRL's order)
        sync()
        t0 = time.monotonic()
        generator.sync()
        # The HF path stops generating when the budget is nearly gone (reported as a shorter completion).
        completions = generator.generate(
            torch, prompt_ids, args.completion_len, max(args.max_seconds - elapsed - 30, 10)
        )
        sync()
        t1 = time.monotonic()
        # 0.5 x format + 1.0 x accuracy, random: the weights are random, and the cost does not depend on the values.
        rewards = 0.5 * torch.randint(0, 2, (len(prompt_ids),), generator=sample_ids).float()
        rewards += torch.randint(0, 2, (len(prompt_ids),), generator=sample_ids).float()
        advantages = group_advantages(torch, rewards, group).to(device)
        sequences = torch.cat([prompt_ids, completions], dim=1)
        loss, grad_norm = train_on_rollout(
            torch, model, ref_model, optimizer, sequences, completions.shape[1], advantages, args, recipe
        )
        sync()
        t2 = time.monotonic()
        step = {
            "seconds": t2 - t0,
            "generation_seconds": t1 - t0,
            "train_seconds": t2 - t1,
            "completion_len": completions.shape[1],
            "sequences": len(sequences),
            "loss": loss,
            "grad_norm": grad_norm,
        }
        steps.append(step)
        log(
            f"step {index}: {step['seconds']:.1f}s (generate {t1 - t0:.1f}s, train {t2 - t1:.1f}s), "
            f"{completions.shape[1]} new tokens x {len(sequences)}, loss {loss:.4g}, grad norm {grad_norm:.3g}"
        )
    return steps


def summarise(steps: list[dict], counts: dict, tconf, args, peak: float | None) -> dict:
    """Rates over the timed steps: all but the first (CUDA warm-up, allocator growth) when there are two or more."""
    timed = steps[1:] if len(steps) > 1 else steps
    seconds = sum(s["seconds"] for s in timed)
    gen_seconds = sum(s["generation_seconds"] for s in timed)
    train_seconds = sum(s["train_seconds"] for s in timed)
    new_tokens = sum(s["completion_len"] * s["sequences"] for s in timed)
    seq_tokens = sum((args.prompt_len + s["completion_len"]) * s["sequences"] for s in timed)
    flops = {"train": 0.0, "reference": 0.0, "generation": 0.0}
    for s in timed:
        for key, value in step_flops(
            counts, tconf, s["sequences"], args.prompt_len, s["completion_len"], args.kl_coef > 0
        ).items():
            flops[key] += value
    total_flops = sum(flops.values())
    return {
        "steps_run": len(steps),
        "steps_timed": len(timed),
        "step_seconds": [round(s["seconds"], 3) for s in steps],
        "seconds_per_step": seconds / len(timed),
        "generation_seconds_per_step": gen_seconds / len(timed),
        "train_seconds_per_step": train_seconds / len(timed),
        "generation_tokens_per_s": new_tokens / gen_seconds,
        "train_tokens_per_s": seq_tokens / train_seconds,
        "tokens_per_s": seq_tokens
        / seconds,  # prompt + completion tokens per second of whole step (EasyR1's figure)
        "model_tflops_per_step": total_flops / len(timed) / 1e12,
        "mfu": total_flops / seconds / (peak * 1e12) if peak else None,
        "train_mfu": (flops["train"] + flops["reference"]) / train_seconds / (peak * 1e12) if peak else None,
        "completion_len_generated": min(s["completion_len"] for s in steps),
        "last_loss": steps[-1]["loss"],
        "last_grad_norm": steps[-1]["grad_norm"],
    }


def finite(value):
    """The result with NaN and infinities as strings, so the line stays strict JSON (a NaN loss is a finding)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def peak_memory(torch, device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30, "torch.cuda.max_memory_allocated"
    import resource

    return resource.getrusage(
        resource.RUSAGE_SELF
    ).ru_maxrss / 2**20, "process max RSS (CPU run)"  # KiB on Linux


def run(args: argparse.Namespace, recipe: dict, result: dict) -> None:
    import torch
    import transformers

    result.update(torch=torch.__version__, transformers=transformers.__version__, cuda=torch.version.cuda)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"--device cuda but torch.cuda.is_available() is False (torch {torch.__version__}, "
                f"CUDA build {torch.version.cuda}); for a CPU smoke run: --model tiny --device cpu"
            )
        result["device_name"] = torch.cuda.get_device_name(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        result["device_name"] = platform.processor() or platform.machine()
    peak, result["peak_tflops_source"] = peak_tflops(args, result["device_name"])
    result["peak_tflops"] = peak
    model = build_model(args, torch, device)
    counts = param_counts(model)
    result["params"] = counts
    log(f"{args.model} built on {result['device_name']}: {counts['total'] / 1e9:.3f}B parameters")
    ref_model = copy.deepcopy(model).eval().requires_grad_(False) if args.kl_coef > 0 else None
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gpu_check_") as workdir:
        generator, vllm_error = pick_generator(args, model, recipe["temperature"], Path(workdir))
        result.update(
            generator=generator.name, vllm_import_error=vllm_error, init_seconds=time.monotonic() - START
        )
        log(f"generating with {generator.name}" + (f" (vllm: {vllm_error})" if vllm_error else ""))
        steps = run_steps(torch, args, recipe, model, ref_model, generator, device)
    result["stopped_by_budget"] = len(steps) < args.steps
    result.update(summarise(steps, counts, text_config(model), args, peak))
    result["peak_memory_gib"], result["peak_memory_kind"] = peak_memory(torch, device)


def main(argv: list[str] | None = None) -> int:
    recipe = recipe_shape()
    args = parse_args(argv, recipe)
    result: dict = {
        "check": "gpu_check",
        "ok": False,
        "model": args.model,
        "weights": "random, from config",
        "python": platform.python_version(),
        "device": args.device,
        "shape": {
            "recipe": "fre-text",
            "prompts_per_step": args.prompts,
            "group_size": args.group_size,
            "samples_per_step": args.prompts * args.group_size,
            "prompt_len": args.prompt_len,
            "completion_len": args.completion_len,
            "micro_batch_size": args.micro_batch_size,
            "kl_coef": args.kl_coef,
            "dtype": args.dtype,
            "gradient_checkpointing": not args.no_gradient_checkpointing,
        },
        "flop_formula": FLOP_FORMULA,
    }
    try:
        run(args, recipe, result)
        result["ok"] = True
    except Exception as exc:  # the JSON line must come out whatever broke, with the reason in it
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"
        if "out of memory" in str(exc).lower():
            result["hint"] = "lower --completion-len, --prompts or --micro-batch-size, or pass --kl-coef 0"
        log(f"FAILED: {result['error']}")
    result["imported_trl"] = "trl" in sys.modules
    result["total_seconds"] = time.monotonic() - START
    print(json.dumps(finite(result), allow_nan=False, default=str), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
