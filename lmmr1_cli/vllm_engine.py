"""Generation through vLLM inside TRL's GRPOTrainer: with vllm_checks.py, the home of everything vLLM-specific.

TRL 1.16 generates with vLLM and pushes the trainer's weights into the engine after every optimizer step. Three
ways that path goes silently wrong were measured (shared/DESIGN.md, "Measured facts"; docs/vllm.md); each has a
fix here, and a check in every run that fires if one comes back:

1. vLLM's CPU build packs each Linear weight for oneDNN/SGL kernels and leaves an empty placeholder (or, for the
   tied lm_head, a stale packed copy), so TRL's weight push fails or is ignored. Fix: keep 2-D weights live and
   multiply with `F.linear` (`keep_cpu_linear_weights_live`); the push then lands where vLLM computes with it.
2. TRL hands vLLM prompt ids in which the HF processor already expanded each `<|image_pad|>` to the image's token
   count, and vLLM's multimodal processor expands the first pad again (TRL #6294, PR #6718): rollouts come from
   another prompt than the one trained on, with no error. Fix: collapse each run of pads to one before vLLM
   generates (vLLM rebuilds exactly the trainer's ids), and compare the ids vLLM used with the trainer's.
3. TRL resets only vLLM's prefix cache after a push; vision-encoder outputs stay cached per image, so a picture
   seen before is encoded with old weights. Fix: `reset_encoder_cache()` after every push.

`RolloutGuard` (vllm_checks.py) applies fixes 2 and 3 around TRL's generation and push, and runs the checks that
fire when one comes back: prompt ids, logprob gap, every pushed weight read back from the engine.

Install facts for vLLM's CPU build (torch 2.13.0 CUDA build, torchvision 0.28.0, transformers < 5.20) live in
scripts/setup_vllm_venv.sh (`make setup-vllm`).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from lmmr1_cli.errors import EnvironmentMissingError, Lmmr1Error

SETUP_HINT = "on this CPU machine `make setup-vllm` builds .venv-vllm, whose `lmmr1` has vLLM's CPU build"
# vLLM runs in bfloat16 on CPU (it downcasts float32 models) and usually on GPU; a bf16 forward differs from the
# trainer's by ~1e-2 nats a token (measured on the tiny model: mean 0.012-0.02), a wrong prompt or stale weights by
# 1-3 nats on average (docs/vllm.md). 0.1 sits far from both.
DEFAULT_LOGP_GAP_TOLERANCE = 0.1
# KV cache for the CPU engine when the user has not chosen one (vLLM's default takes 4 GiB a process).
CPU_KV_CACHE_GIB = "1"
# Broken-on-purpose runs for the tests (tests/vllm_backend/): each undoes one of the three fixes above. A run with
# one set records it in run.json and summary.json (`generation.fault`) and warns at start.
FAULT_ENV = "LMMR1_VLLM_FAULT"
FAULTS = ("skip_weight_push", "double_image_pads", "stale_encoder_cache")


def fault_warning() -> str | None:
    """The line a run prints at start when LMMR1_VLLM_FAULT undoes a fix on purpose (None when unset)."""
    fault = os.environ.get(FAULT_ENV)
    if not fault:
        return None
    return (
        f"warning: {FAULT_ENV}={fault} undoes one of the vLLM fixes on purpose (a test setting): this run's "
        "rollouts are broken and its rollout checks are expected to stop it; unset it for a real run"
    )


def shut_down_colocated_engine(trainer) -> None:
    """Tear down the engine TRL runs in this process while torch.distributed is still up.

    vLLM's own teardown runs at interpreter exit and destroys its process groups, which were made from the
    default one: after the run has left the default group (train.py, with several processes), every rank printed
    a `ValueError: Invalid process group specified` traceback at exit of a run that had finished well."""
    generation = getattr(trainer, "vllm_generation", None)
    llm = getattr(generation, "llm", None)
    if llm is not None:
        llm.llm_engine.engine_core.shutdown()  # runs once: vLLM's exit-time finalizer is detached by it


class RolloutConsistencyError(Lmmr1Error):
    """vLLM generated from another prompt or other weights than the trainer's: the run stops before training on it."""

    exit_code = 3


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def check_vllm_request(mode: str, has_cuda: bool) -> None:
    """Before anything loads: vLLM must be importable, and server mode needs CUDA (its weight sync is NCCL)."""
    if not vllm_installed():
        where = "on a CUDA machine `pip install 'lmmr1[vllm]'`" if has_cuda else SETUP_HINT
        raise EnvironmentMissingError(f"--use-vllm needs vLLM, which is not installed here: {where}")
    if mode == "server" and not has_cuda:
        raise EnvironmentMissingError(
            "--vllm-mode server needs CUDA: TRL pushes weights to `trl vllm-serve` over NCCL, which has no CPU "
            "backend; use --vllm-mode colocate on this machine"
        )


def grpo_vllm_arguments(rollout, cpu: bool) -> dict[str, Any]:
    """GRPOConfig fields for `rollout.use_vllm` (empty when off)."""
    if not rollout.use_vllm:
        return {}
    arguments: dict[str, Any] = {
        "use_vllm": True,
        "vllm_mode": rollout.vllm_mode,
        "vllm_tensor_parallel_size": rollout.vllm_tensor_parallel_size,
        # TRL computes vLLM's and the trainer's logprobs of each rollout only with this on; the guard reads the gap.
        "vllm_importance_sampling_correction": True,
    }
    if rollout.vllm_mode == "colocate":
        arguments["vllm_gpu_memory_utilization"] = rollout.vllm_gpu_memory_utilization
        # Sleep mode frees CUDA memory between rollouts; vLLM's CPU build has no such allocator.
        arguments["vllm_enable_sleep_mode"] = rollout.vllm_enable_sleep_mode and not cpu
    else:
        arguments["vllm_server_host"] = rollout.vllm_server_host
        arguments["vllm_server_port"] = rollout.vllm_server_port
    return arguments


def prepare_engine(cpu: bool) -> None:
    """Process-wide settings the engine needs before TRL builds it (called once, before the trainer)."""
    if not cpu:
        return
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
    keep_cpu_linear_weights_live()


def keep_cpu_linear_weights_live() -> None:
    """Trap 1: make vLLM's CPU Linear layers compute with their live `weight`, so weight pushes take effect."""
    import torch.nn.functional as F
    from vllm.model_executor.layers import utils

    original = utils.dispatch_cpu_unquantized_gemm
    if getattr(original, "_lmmr1_live", False):
        return

    def dispatch(layer, remove_weight: bool) -> None:
        if layer.weight.ndim == 2 and not layer.weight.is_meta:
            # `weight` is the layer's parameter at call time: whatever TRL loaded into it last.
            layer.cpu_linear = lambda x, weight, bias: F.linear(x, weight, bias)
            return
        original(layer, remove_weight)

    dispatch._lmmr1_live = True
    utils.dispatch_cpu_unquantized_gemm = dispatch


def collapse_image_pads(ids: list[int], pad_id: int) -> list[int]:
    """Trap 2: each run of image pads becomes one pad, which vLLM's processor expands to the image's tokens."""
    out: list[int] = []
    for token in ids:
        if token == pad_id and out and out[-1] == pad_id:
            continue
        out.append(token)
    return out


def prepare_eval_engine(cpu: bool) -> None:
    """Settings for an offline engine in `lmmr1 eval` (and a `--judge-backend vllm` judge) on CPU."""
    if cpu:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
        # The engine in this process: ~3 s to start instead of ~20 s for a worker process (measured).
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


class VLLMBackend:
    """`lmmr1 eval --backend vllm`: vLLM's offline engine over the same prompts as the hf backend.

    Images go in as multi-modal data beside the chat-templated prompt text, so vLLM's own processor expands the
    image placeholders (once). On CPU vLLM computes in bfloat16 (it downcasts float32 models), so a few greedy
    answers may differ from the hf backend's float32 ones (README, "Generation through vLLM").
    """

    name = "vllm"

    def __init__(self, model_ref: str, dtype: str | None = None, min_pixels=None, max_pixels=None, **engine):
        import tempfile
        from pathlib import Path

        from lmmr1_cli.evaluation.generation import is_vision_model
        from lmmr1_cli.modeling import resolve_model, save_merged_model

        try:
            import torch
            import vllm
        except ImportError as exc:
            raise EnvironmentMissingError(
                f"--backend vllm needs vLLM (import failed: {exc}): on a CUDA machine `pip install 'lmmr1[vllm]'`; "
                f"{SETUP_HINT}; or use --backend hf"
            ) from None
        prepare_eval_engine(cpu=not torch.cuda.is_available())
        source = resolve_model(model_ref)
        self.resolved = source.location
        self.vision = is_vision_model(source)
        if source.is_lora:
            # vLLM's engine takes a full model: write the merged one (what `lmmr1 export` checks) to a temp dir.
            self._merged = tempfile.TemporaryDirectory(prefix="lmmr1-merged-")
            self.resolved = str(save_merged_model(model_ref, Path(self._merged.name) / "model", dtype))
        engine.setdefault("enforce_eager", True)
        engine.setdefault("seed", 0)
        if self.vision:
            # The paper's eval allows 5 images a prompt (eval_mm_benchmark.sh limit_img_num=5; OlympiadBench).
            engine.setdefault("limit_mm_per_prompt", {"image": 5})
            if min_pixels or max_pixels:
                engine.setdefault("mm_processor_kwargs", {"min_pixels": min_pixels, "max_pixels": max_pixels})
        try:
            self.llm = vllm.LLM(model=self.resolved, dtype=dtype or "auto", **engine)
        except Exception as exc:  # vLLM raises many types for "cannot run here" (no device, bad head size)
            raise EnvironmentMissingError(
                f"vLLM could not start an engine for {self.resolved}: {exc}"
            ) from exc
        self.tokenizer = self.llm.get_tokenizer()
        self._vllm = vllm

    @classmethod
    def from_engine(cls, llm, vision: bool) -> VLLMBackend:
        """Wrap an engine already running in this process: a `--use-vllm` training run's own, for validation
        during training (validation.py), with no second model load; the caller has pushed the trainer's weights."""
        import vllm

        backend = cls.__new__(cls)
        backend.llm, backend.resolved, backend.vision = llm, "", vision
        backend.tokenizer = llm.get_tokenizer()
        backend._vllm = vllm
        return backend

    def chat_text(self, prompt) -> str:
        from lmmr1_cli.evaluation.generation import flatten_text

        messages = prompt.messages if self.vision else flatten_text(prompt.messages)
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def generate(self, prompts: list, settings) -> list[list]:
        from lmmr1_cli.evaluation.generation import Generation, open_images

        params = self._vllm.SamplingParams(
            n=settings.samples,
            temperature=max(settings.temperature, 0.0),
            top_p=settings.top_p if not settings.greedy else 1.0,
            max_tokens=settings.max_new_tokens,
            seed=settings.seed,
            repetition_penalty=settings.repetition_penalty,
            skip_special_tokens=True,
        )
        inputs = []
        for prompt in prompts:
            item = {"prompt": self.chat_text(prompt)}
            if prompt.images:
                item["multi_modal_data"] = {"image": open_images(prompt.images)}
            inputs.append(item)
        outputs = self.llm.generate(inputs, params, use_tqdm=False)
        return [
            [Generation(o.text, len(o.token_ids), tuple(o.token_ids)) for o in out.outputs] for out in outputs
        ]
