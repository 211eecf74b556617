"""The real `lmmr1` chain on one GPU in one command: Qwen2.5-VL-3B (random weights) through prepare-data, train-fre,
train-mgt, eval and export, then one JSON line of what it cost.

Where bench/gpu_check.py is a micro-benchmark (a hand-written GRPO loop that shares no code with training), this
runs `lmmr1` itself, as a user would, each stage as its own `lmmr1` process:
  build         Qwen2.5-VL-3B-Instruct from its published config (bench/qwen2_5_vl_3b_config.json), random weights,
                vocabulary kept at the published 151,936 so the output layer costs what it costs; tokenizer,
                processor and chat template from lmmr1's tiny model, with the config's special-token ids mapped to
                the tiny tokenizer's. Before saving it, it times `generate` on one rollout's completions in one
                call and on one group (the transformers path TRL takes: docs/benchmarks.md).
  prepare-data  synthetic text (synthetic-arith) and pictures (synthetic-geo), a held-out picture set
  train-fre     the fre-text recipe (group 16, micro batch 2, bf16, gradient checkpointing, KL 1e-3) cut to one
                rollout of --fre-prompts x 16 completions of --completion-len tokens feeding --fre-steps steps
  train-mgt     the mgt-geo recipe from that run on the pictures, --mgt-steps steps
  eval          the MGT run on the held-out pictures (greedy, --completion-len new tokens)
  export        the MGT run to a standalone model dir, checked by reload
The JSON line: stages run and their seconds, per training stage seconds/step, generation and training tokens/s,
MFU (bench/gpu_metrics.py's formulas, shared with gpu_check) and peak GPU memory (nvidia-smi, sampled), plus the
generate timings. Intermediate model dirs are deleted once no later stage needs them (a 3B checkpoint is 7.5 GB).

    make gpu-smoke                                    # on the GPU machine, after scripts/install_offline.sh
    python bench/gpu_smoke.py --model tiny --device cpu --completion-len 8   # the same chain on a CPU, in ~2 min
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

START = time.monotonic()
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_metrics import FLOP_FORMULA, mfu, param_counts, peak_tflops, qwen25_vl_3b_config, step_flops  # noqa: E402

LMMR1 = str(Path(sys.executable).with_name("lmmr1"))
GROUP = 16  # fre-text's and mgt-geo's samples_per_prompt (--n_samples_per_prompt 16)
# The published config's special tokens, by the name the tiny tokenizer gives them.
SPECIAL_TOKENS = {
    "bos_token_id": "<|endoftext|>",
    "eos_token_id": "<|im_end|>",
    "vision_start_token_id": "<|vision_start|>",
    "vision_end_token_id": "<|vision_end|>",
    "vision_token_id": "<|vision_pad|>",
    "image_token_id": "<|image_pad|>",
    "video_token_id": "<|video_pad|>",
}


def log(message: str) -> None:
    print(f"[gpu_smoke {time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        default="qwen2.5-vl-3b",
        choices=["qwen2.5-vl-3b", "tiny", "tiny-wide"],
        help="tiny: lmmr1's tiny config; tiny-wide: it with the published vocabulary (CPU tests)",
    )
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--completion-len", type=int, default=256, help="rollout.max_completion_length")
    parser.add_argument("--fre-prompts", type=int, default=3, help="prompts in FRE's one rollout (x 16)")
    parser.add_argument("--fre-steps", type=int, default=3, help="optimizer steps FRE's rollout feeds")
    parser.add_argument("--mgt-prompts", type=int, default=2)
    parser.add_argument("--mgt-steps", type=int, default=2)
    parser.add_argument("--rows", type=int, default=32, help="rows of each prepared training set")
    parser.add_argument("--eval-rows", type=int, default=16)
    # 480: with install_offline.sh's ~80 s before it, the whole device command stays inside its 10 minutes.
    parser.add_argument("--max-seconds", type=float, default=480, help="no stage starts after this; each "
                        "stage is stopped there (the JSON line says which ran)")  # fmt: skip
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="dense bf16 peak (default: by GPU name)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the outputs here (default: a temp dir)"
    )
    parser.add_argument(
        "--train-overrides", nargs="*", default=[], help="more key=value for both train stages"
    )
    return parser.parse_args(argv)


class MemoryWatch:
    """Peak GPU memory used on the device while the stages run, sampled from nvidia-smi (the stages are other
    processes; on a CPU run: the children's peak resident memory)."""

    def __init__(self, device: str):
        self.device, self.peak_mib, self._stop = device, 0.0, threading.Event()
        self.source = (
            "nvidia-smi memory.used, sampled every 0.5 s" if device == "cuda" else "children max RSS"
        )
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        if self.device == "cuda" and shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def _sample(self) -> None:
        query = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "--id=0"]
        while not self._stop.wait(0.5):
            result = subprocess.run(query, capture_output=True, text=True)
            if result.returncode == 0 and result.stdout.strip():
                self.peak_mib = max(self.peak_mib, float(result.stdout.split()[0]))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.device != "cuda":
            import resource

            self.peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux

    @property
    def peak_gib(self) -> float:
        return round(self.peak_mib / 1024, 2)


def build_model(args: argparse.Namespace, out: Path, result: dict) -> None:
    """The model dir every later stage loads, and the generate timings (point: one call vs one group)."""
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from lmmr1_cli.tiny import tiny_model_dir

    tiny = tiny_model_dir()
    processor = AutoProcessor.from_pretrained(tiny)
    tokenizer = processor.tokenizer
    config = model_config(args.model, tokenizer)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(args.device):  # a 3.75B init on the GPU takes seconds; on the CPU, minutes
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    counts = param_counts(model)
    result.update(params=counts, vocab_size=config.text_config.vocab_size, tokenizer_size=len(tokenizer))
    log(f"{args.model}: {counts['total'] / 1e9:.3f}B parameters, vocabulary {config.text_config.vocab_size}")
    result["generate_batch"] = time_generate(args, model, torch)
    model.save_pretrained(out)
    (out / "param_counts.json").write_text(json.dumps(counts))  # for the FLOP count of the stages
    processor.save_pretrained(out)
    shutil.copy(tiny / "generation_config.json", out / "generation_config.json")  # the tiny tokenizer's ids
    del model
    if args.device == "cuda":
        torch.cuda.empty_cache()


def model_config(name: str, tokenizer):
    """The config to build: the published 3B one with its special-token ids mapped to the tiny tokenizer's (its
    vocabulary stays 151,936: ids past the tokenizer's decode to nothing), or the tiny model's."""
    from transformers import AutoConfig

    from lmmr1_cli.tiny import tiny_model_dir

    if name == "qwen2.5-vl-3b":
        raw = qwen25_vl_3b_config()
        raw.update({key: tokenizer.convert_tokens_to_ids(token) for key, token in SPECIAL_TOKENS.items()})
        return AutoConfig.for_model(**raw)
    config = AutoConfig.from_pretrained(tiny_model_dir())
    if name == "tiny-wide":  # the published vocabulary on the tiny body: the 3B path's output layer, on a CPU
        config.text_config.vocab_size = qwen25_vl_3b_config()["vocab_size"]
    return config


def time_generate(args: argparse.Namespace, model, torch) -> dict:
    """Completion tokens/s of transformers `generate` on FRE's whole rollout in one call (what TRL 1.16 does with
    lmmr1's generation_batch_size) and on one group of 16, each generating --completion-len tokens."""
    model.eval()
    timings = {}
    for label, rows in (("one_call", args.fre_prompts * GROUP), ("one_group", GROUP)):
        prompt = torch.randint(1, text_token_ceiling(model.config), (rows, 64), device=args.device)
        if args.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=0,
                           max_new_tokens=args.completion_len, min_new_tokens=args.completion_len, pad_token_id=0)  # fmt: skip
        if args.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        timings[label] = {
            "sequences": rows,
            "seconds": round(seconds, 3),
            "tokens_per_s": round(rows * args.completion_len / seconds, 1),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
            if args.device == "cuda"
            else None,
        }
        log(f"generate {label}: {rows} x {args.completion_len} tokens in {seconds:.1f}s")
    return timings


def text_token_ceiling(config) -> int:
    """The tiny tokenizer's special tokens follow its ordinary ones (<|endoftext|>, id 0, aside): random prompt ids
    below the first of them are ordinary text."""
    ids = [getattr(config, key, None) for key in SPECIAL_TOKENS if key != "bos_token_id"]
    ids.append(getattr(config.text_config, "eos_token_id", None))
    return min(i for i in ids if isinstance(i, int) and i > 1)


def run_stage(name: str, argv: list[str], args, result: dict) -> dict | None:
    """One `lmmr1` process; its --json output parsed. Stops the chain (raises) when it fails."""
    remaining = args.max_seconds - (time.monotonic() - START)
    if remaining <= 0:
        raise TimeoutError(f"no time left for {name} (--max-seconds {args.max_seconds:g})")
    log(f"{name}: lmmr1 {' '.join(argv)}")
    start = time.monotonic()
    try:
        out = subprocess.run([LMMR1, *argv], capture_output=True, text=True, timeout=remaining)
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"{name} passed --max-seconds {args.max_seconds:g}") from exc
    result["stage_seconds"][name] = round(time.monotonic() - start, 1)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise RuntimeError(f"{name} exited {out.returncode}: {out.stderr.strip().splitlines()[-1:]}")
    result["stages_run"].append(name)
    return json_output(out.stdout)


def json_output(stdout: str) -> dict | None:
    """A command's --json document: from its first line that opens one (a library may log a line before it)."""
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("{"):
            try:
                return json.loads("\n".join(lines[index:]))
            except json.JSONDecodeError:
                continue
    return None


def training_rates(run_dir: Path, model_dir: Path, prompts: int, kl: bool, peak: float | None) -> dict:
    """seconds/step, tokens/s and MFU of a finished run, from its metrics.jsonl (TRL's and lmmr1's step logs)."""
    from transformers import AutoConfig

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [row for row in rows if "seconds_per_step" in row or "generation/seconds" in row]
    gen_seconds = sum(row.get("generation/seconds", 0.0) for row in steps)
    opt_seconds = sum(row.get("optimizer/seconds", 0.0) for row in steps)
    step_seconds = sum(row.get("step_time", 0.0) for row in steps)
    sequences = prompts * GROUP
    completion = max(row.get("completions/mean_length", 0.0) for row in steps)
    tokens = max(row.get("num_tokens", 0.0) for row in steps)  # prompt + completion tokens of every rollout
    prompt = tokens / sequences - completion
    tconf = AutoConfig.from_pretrained(model_dir).text_config
    counts = json.loads((model_dir / "param_counts.json").read_text())
    flops = step_flops(counts, tconf, sequences, prompt, completion, with_ref=kl)
    return {
        "steps": len(steps),
        "seconds_per_step": round(step_seconds / max(len(steps), 1), 3),
        "completions": sequences,
        "mean_prompt_tokens": round(prompt, 1),
        "mean_completion_tokens": round(completion, 1),
        "generation_seconds": round(gen_seconds, 2),
        "optimizer_seconds": round(opt_seconds, 2),
        "generation_tokens_per_s": round(sequences * completion / gen_seconds, 1) if gen_seconds else None,
        "train_tokens_per_s": round(tokens / opt_seconds, 1) if opt_seconds else None,
        "mfu": mfu(sum(flops.values()), step_seconds, peak),
        "train_mfu": mfu(flops["train"] + flops["reference"], opt_seconds, peak),
        "generation_mfu": mfu(flops["generation"], gen_seconds, peak),
    }


def run_chain(args: argparse.Namespace, work: Path, result: dict) -> None:
    data, runs = work / "data", work / "runs"
    model_dir = work / "model"
    start = time.monotonic()
    build_model(args, model_dir, result)
    result["stage_seconds"]["build"] = round(time.monotonic() - start, 1)
    result["stages_run"].append("build")
    for recipe, split, rows, name in (
        ("synthetic-arith", "train", args.rows, "text"),
        ("synthetic-geo", "train", args.rows, "pictures"),
        ("synthetic-geo", "test", args.eval_rows, "eval"),
    ):
        argv = ["prepare-data", recipe, "--split", split, "--limit", str(rows), "-o", str(data / name), "--force"]  # fmt: skip
        run_stage(f"prepare-data {name}", [*argv, "--json"], args, result)
    length = f"rollout.max_completion_length={args.completion_len}"
    # One rollout of PROMPTS x 16 completions feeding STEPS optimizer steps; no checkpoint but the end-of-run one.
    fre = ["train-fre", "--recipe", "fre-text", "--model", str(model_dir), "--data", str(data / "text"), "-o",
           str(runs / "fre"), "--force", "--json", f"run.max_steps={args.fre_steps}", length,
           *one_rollout(args.fre_prompts, args.fre_steps), "run.save_every_rollouts=1000", *args.train_overrides]  # fmt: skip
    run_stage("train-fre", fre, args, result)
    result["train-fre"] = training_rates(
        runs / "fre", model_dir, args.fre_prompts, True, result["peak_tflops"]
    )
    # Disk is finite (the GPU machine has 64 GiB; a 3B run's end-of-run checkpoint holds float32 weights and Adam's
    # two moments, ~45 GB): drop what no later stage reads. train-mgt starts from runs/fre/final.
    shutil.rmtree(runs / "fre" / "checkpoints", ignore_errors=True)
    for weights in model_dir.glob("*.safetensors"):
        weights.unlink()
    mgt = ["train-mgt", "--recipe", "mgt-geo", "--init", str(runs / "fre"), "--data", str(data / "pictures"), "-o",
           str(runs / "mgt"), "--force", "--json", f"run.max_steps={args.mgt_steps}", length,
           *one_rollout(args.mgt_prompts, args.mgt_steps), "run.save_every_rollouts=1000", *args.train_overrides]  # fmt: skip
    run_stage("train-mgt", mgt, args, result)
    result["train-mgt"] = training_rates(
        runs / "mgt", model_dir, args.mgt_prompts, True, result["peak_tflops"]
    )
    shutil.rmtree(runs / "fre", ignore_errors=True)  # eval and export read runs/mgt/final only
    shutil.rmtree(runs / "mgt" / "checkpoints", ignore_errors=True)
    summary = run_stage("eval", ["eval", "--model", str(runs / "mgt"), "--benchmark", str(data / "eval"),
                        "--max-new-tokens", str(args.completion_len), "-o", str(work / "results"), "--force",
                        "--json"], args, result)  # fmt: skip
    result["eval"] = {
        "rows": args.eval_rows,
        "summary_keys": sorted(summary) if isinstance(summary, dict) else None,
    }
    export = run_stage("export", ["export", str(runs / "mgt"), "-o", str(work / "exported"), "--force", "--json"],
                       args, result)  # fmt: skip
    result["export"] = (
        {key: export.get(key) for key in ("dtype", "parameters", "probes", "seconds")} if export else None
    )


def one_rollout(prompts: int, steps: int) -> list[str]:
    """Batch overrides for one rollout of PROMPTS x 16 feeding STEPS optimizer steps at fre-text's micro batch."""
    completions = prompts * GROUP
    if completions % steps:
        raise ValueError(f"{prompts} prompts x {GROUP} completions do not split into {steps} steps")
    return [f"batch.prompts_per_rollout={prompts}", f"batch.samples_per_step={completions // steps}"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result: dict = {"check": "gpu_smoke", "ok": False, "model": args.model, "weights": "random, from config",
                    "device": args.device, "stages_run": [], "stage_seconds": {}, "flop_formula": FLOP_FORMULA}  # fmt: skip
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gpu_smoke_"))
    memory = None
    stdout = sys.stdout
    # stdout is the JSON line's alone: libraries that log there while importing (DeepSpeed) write to stderr.
    sys.stdout = sys.stderr
    try:
        import torch
        import transformers

        result.update(torch=torch.__version__, transformers=transformers.__version__, cuda=torch.version.cuda)
        if args.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"--device cuda, but torch {torch.__version__} sees no GPU; a CPU run: --device cpu"
            )
        name = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
        result["device_name"] = name
        result["peak_tflops"], result["peak_tflops_source"] = peak_tflops(args.peak_tflops, name)
        with MemoryWatch(args.device) as memory:
            run_chain(args, work, result)
        result["ok"] = True
    except Exception as exc:  # the JSON line comes out whatever broke, with the reason in it
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if memory is not None:
        result["peak_memory_gib"], result["peak_memory_source"] = memory.peak_gib, memory.source
    result["total_seconds"] = round(time.monotonic() - START, 1)
    sys.stdout = stdout
    print(json.dumps(result, default=str), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
