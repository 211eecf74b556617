"""The rollout checks of generation through vLLM (`RolloutGuard`), and the weight read-back they rest on.

Per rollout (colocate and server): the prompt ids vLLM generated from must equal the trainer's, and the mean gap
between vLLM's sampling logprobs and the trainer's on the rollout itself (TRL computes both) must stay under a
tolerance. Every `rollout.vllm_sync_check_every` optimizer steps (colocate only: in server mode the engine is
another process): every tensor TRL pushes is computed again from the trainer's current state, gathered and merged
as TRL's push does (`pushed_weights`), and loaded through the engine's own `load_weights` into a scratch copy of
each engine parameter it reaches (`compare_with_engine`): vLLM's own name mapping, fusing (q/k/v into `qkv_proj`,
gate/up into `gate_up_proj`) and tensor-parallel sharding place it, and the result must equal what the engine
holds, element for element. A push that did not land, landed in the wrong place, or left an engine parameter
unreached fails the check.

Every verdict is taken on all ranks together (a gather before any rank raises), so a failure stops every process
at the same point; train.py then saves the trainer's weights (the healthy side) as a resumable checkpoint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from lmmr1_cli.errors import EnvironmentMissingError
from lmmr1_cli.vllm_engine import FAULT_ENV, FAULTS, RolloutConsistencyError, collapse_image_pads

# TRL 1.16 logs these for every rollout when `vllm_importance_sampling_correction` is on (grpo_trainer.py of TRL);
# the guard reads them and fails loudly where a TRL version does not log them (never a gap of 0 by default).
GAP_MEAN_METRIC = "sampling/sampling_logp_difference/mean"
GAP_MAX_METRIC = "sampling/sampling_logp_difference/max"
# How many names a failure message lists before "and N more".
_NAMES_SHOWN = 4


def vllm_weight_name(name: str) -> str | None:
    """The name TRL 1.16's push gives vLLM for the trainer parameter `name`, or None when it pushes none for it.

    As VLLMGeneration._iter_named_params: PEFT's `base_model.model.` prefix and `.base_layer` go, wrappers'
    `_checkpoint_wrapped_module.` / `_fsdp_wrapped_module.` / `modules_to_save.default.` go; LoRA's own A/B
    parameters and a modules_to_save copy's `original_module` are not pushed (they are merged, or replaced).
    """
    if ".lora_" in name or "original_module" in name:
        return None
    name = name.removeprefix("base_model.model.").replace(".base_layer", "")
    for wrapper in ("_checkpoint_wrapped_module.", "_fsdp_wrapped_module.", "modules_to_save.default."):
        name = name.replace(wrapper, "")
    return name


def _lora_layers(model) -> dict[int, Any]:
    """id(base weight or bias) -> its LoRA layer, for the layers whose active adapters the push merges."""
    layers = {}
    for module in model.modules():
        if (
            not hasattr(module, "lora_A")
            or not hasattr(module, "get_base_layer")
            or getattr(module, "merged", False)
        ):
            continue
        base = module.get_base_layer()
        for tensor in (getattr(base, "weight", None), getattr(base, "bias", None)):
            if tensor is not None:
                layers[id(tensor)] = module
    return layers


def _merged(layer, tensor, is_bias: bool):
    """The base weight (or bias) with the layer's active adapters merged, as peft's `merge` computes it in place
    (TRL's push merges, reads, unmerges); here on a copy, so the trainer's weights are not touched."""
    out = tensor.detach().clone()
    for adapter in layer.active_adapters:
        if adapter not in layer.lora_A.keys():
            continue
        if is_bias:
            if layer.lora_bias.get(adapter):
                out += layer.lora_B[adapter].bias * layer.scaling[adapter]
        elif adapter in getattr(layer, "lora_variant", {}):
            out = layer.lora_variant[adapter].merge_safe(layer, adapter, out)
        else:
            out += layer.get_delta_weight(adapter)
    return out


@contextmanager
def _gathered(params: list):
    """ZeRO-3 partitions each parameter (shape [0] outside this): gather the full ones, as TRL's push does."""
    if any(hasattr(p, "ds_id") for p in params):
        import deepspeed

        with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
            yield
    else:
        yield


def _full(tensor):
    """FSDP2 shards each parameter as a DTensor: its full value (a collective, as in TRL's push)."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def _fsdp1_full_params(model):
    """FSDP1 flattens parameters into its wrappers: summon the full ones (the whole model at once, read only)."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    if not any(isinstance(m, FSDP) for m in model.modules()):
        return nullcontext()
    return FSDP.summon_full_params(model, recurse=True, writeback=False)


def pushed_weights(model) -> Iterator[tuple[str, Any]]:
    """(name vLLM is given, full tensor) for every tensor TRL's push sends, from the trainer's current state:
    gathered under ZeRO-3 and FSDP, LoRA adapters merged. A collective under ZeRO-3/FSDP: every rank iterates."""
    lora = _lora_layers(model)
    with _fsdp1_full_params(model):
        for name, param in model.named_parameters():
            pushed = vllm_weight_name(name)
            if pushed is None:
                continue
            layer = lora.get(id(param))
            # A LoRA layer's base weight is merged with its adapters, which live beside it: gather them together.
            with _gathered(list(layer.parameters()) if layer is not None else [param]):
                tensor = _full(param)
                if layer is not None:
                    tensor = _merged(layer, tensor, is_bias=name.endswith("bias"))
                yield pushed, tensor.detach()


@dataclass
class WeightComparison:
    """What one read-back found: tensors and elements compared, and anything that did not match or land."""

    tensors: int = 0
    elements: int = 0
    differing_elements: int = 0
    max_abs_diff: float = 0.0
    differing: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)  # pushed names the engine's loader took nothing from
    unreached: list[str] = field(default_factory=list)  # engine parameters no pushed tensor reached
    errors: list[str] = field(default_factory=list)

    def problem(self) -> str | None:
        parts = []
        if self.differing:
            parts.append(
                f"{len(self.differing)} of {self.tensors} pushed tensors differ in the engine ({_names(self.differing)}; "
                f"{self.differing_elements} of {self.elements} elements, by up to {self.max_abs_diff:.3g}): the "
                "weight push did not land"
            )
        if self.not_loaded:
            parts.append(f"the engine's loader took nothing from {_names(self.not_loaded)}")
        if self.unreached:
            parts.append(f"no pushed tensor reaches the engine's {_names(self.unreached)}")
        if self.errors:
            parts.append(f"reading the engine back failed: {'; '.join(self.errors[:2])}")
        if not parts and self.tensors == 0:
            parts.append("no tensor was compared")
        return "; ".join(parts) or None


def _names(names: list[str]) -> str:
    more = len(names) - _NAMES_SHOWN
    return ", ".join(names[:_NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def compare_with_engine(engine_model, weights) -> WeightComparison:
    """Load each (name, tensor) through the engine's own `load_weights` into scratch copies of the parameters it
    reaches (NaN-filled, so what the loader wrote is known), and compare what it wrote with what the engine holds.

    The loader is the one TRL's push goes through, so names, fusing and tensor-parallel sharding are vLLM's own;
    the engine is left as it was. All tensors go through one `load_weights` call (TRL's push makes one a tensor,
    and vLLM's per-call overhead was most of its cost); vLLM's loader consumes them one at a time, so whatever
    the loader writes belongs to the tensor last taken from `weights`. Memory: one engine parameter's scratch at a
    time. Every tensor of `weights` is consumed even after a failure (under ZeRO-3/FSDP producing it is a
    collective the other ranks are in).
    """
    import torch

    result = WeightComparison()
    params = dict(engine_model.named_parameters())
    reached: set[str] = set()
    current: dict[str, Any] = {"name": None, "calls": 0, "differing": False}  # the tensor being loaded

    def comparing_loader(engine_name: str, original):
        def load(param, loaded_weight, *args, **kwargs):
            current["calls"] += 1
            reached.add(engine_name)
            held = param.data
            scratch = torch.full_like(held, float("nan"))
            param.data = scratch
            try:
                original(param, loaded_weight, *args, **kwargs)
            finally:
                param.data = held
            written = ~torch.isnan(scratch)
            count = int(written.sum())
            differ = (scratch != held) & written
            result.elements += count
            if count == 0:
                result.errors.append(f"the loader of {engine_name} wrote nothing where the check can see it")
            if differ.any():
                current["differing"] = True
                result.differing_elements += int(differ.sum())
                gap = (scratch[differ].float() - held[differ].float()).abs().max().item()
                result.max_abs_diff = max(result.max_abs_diff, gap)

        return load

    from vllm.model_executor.model_loader.weight_utils import default_weight_loader

    saved = {}
    for engine_name, param in params.items():
        if not param.is_floating_point():
            result.errors.append(
                f"{engine_name} is {param.dtype}: the check compares floating-point weights only"
            )
            continue
        own = "weight_loader" in vars(param) or hasattr(type(param), "weight_loader")
        saved[engine_name] = (own, getattr(param, "weight_loader", None))
        param.weight_loader = comparing_loader(
            engine_name, getattr(param, "weight_loader", default_weight_loader)
        )

    def finish() -> None:
        if current["name"] is None:
            return
        result.tensors += 1
        if current["calls"] == 0:
            result.not_loaded.append(current["name"])
        elif current["differing"]:
            result.differing.append(current["name"])

    def tagged():
        for name, tensor in weights:
            finish()
            current.update(name=name, calls=0, differing=False)
            yield name, tensor
        finish()
        current["name"] = None

    try:
        try:
            engine_model.load_weights(tagged())
        except Exception as exc:  # noqa: BLE001 (any loader failure is reported, on every rank together)
            result.errors.append(f"{current['name']}: {type(exc).__name__}: {exc}")
            for _ in weights:  # the rest of the gathers, in step with the other ranks
                pass
    finally:
        for engine_name, (own, original) in saved.items():
            param = params[engine_name]
            if own:
                param.weight_loader = original
            else:
                del param.weight_loader
    result.unreached = [name for name in params if name not in reached and params[name].numel() > 0]
    return result


@dataclass
class CheckRecord:
    rollouts: int = 0
    largest_mean_logp_gap: float = 0.0
    weight_checks: int = 0
    weight_max_abs_diff: float = 0.0
    weight_tensors: int = 0
    weight_elements: int = 0
    weight_check_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def active_fault() -> str | None:
    """LMMR1_VLLM_FAULT: one of FAULTS (a fix undone on purpose, for the tests), or None."""
    fault = os.environ.get(FAULT_ENV, "")
    if fault and fault not in FAULTS:
        raise EnvironmentMissingError(f"{FAULT_ENV}={fault!r}: expected one of {FAULTS}")
    return fault or None


class RolloutGuard:
    """Attached to a GRPOTrainer that generates with vLLM: the fixes for traps 2-3 (colocate) and the checks."""

    def __init__(self, trainer, tolerance: float, check_every: int):
        import trl
        import vllm

        self.trainer = trainer
        self.tolerance = tolerance
        self.check_every = check_every
        self.fault = active_fault()
        self.record = CheckRecord()
        self.vllm_version, self.trl_version = vllm.__version__, trl.__version__
        self.generation = self._require(trainer, "vllm_generation", "the trainer's vLLM generation")
        self.mode = self.generation.mode
        self._pending_prompt_mismatch: str | None = None
        # TRL's gap entries before this rollout (its metric lists are cleared at each log).
        self._gap_entries_before = 0
        self._pushes = 0
        tokenizer = getattr(trainer.processing_class, "tokenizer", trainer.processing_class)
        self.pad_id, self.pixel_bounds = None, None
        if self.mode == "colocate" and hasattr(trainer.processing_class, "image_processor"):
            from lmmr1_cli.data.images import PixelBounds

            self.pad_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
            self.pixel_bounds = PixelBounds.from_processor(trainer.processing_class)
        self._generate = self._require(self.generation, "generate", "VLLMGeneration.generate")
        self.generation.generate = self.generate
        if self.mode == "colocate":
            self._sync = self._require(self.generation, "sync_weights", "VLLMGeneration.sync_weights")
            self.generation.sync_weights = self.sync_weights

    def _require(self, owner, attribute: str, what: str):
        """The TRL/vLLM internals the guard hooks into, named when a version lacks them (never skipped)."""
        if not hasattr(owner, attribute):
            raise EnvironmentMissingError(
                f"the vLLM rollout check cannot run with TRL {self.trl_version} / vLLM {self.vllm_version}: "
                f"{what} ({type(owner).__name__}.{attribute}) is missing; lmmr1 is tested with TRL 1.16"
            )
        return getattr(owner, attribute)

    @property
    def llm(self):
        return self.generation.llm

    def engine_dtype(self) -> str:
        return str(self.llm.llm_engine.model_config.dtype).removeprefix("torch.")

    def engine_model(self):
        """The engine's model in this process (colocate), where TRL's push loads the weights."""
        owner = self.llm.llm_engine
        for attribute in ("model_executor", "driver_worker", "model_runner", "model"):
            owner = self._require(owner, attribute, "the engine's model (llm_engine.model_executor.driver_worker."
                                  "model_runner.model, where TRL's push loads weights)")  # fmt: skip
        self._require(owner, "load_weights", "the engine model's load_weights")
        return owner

    # --- the fixes, wrapped around TRL's VLLMGeneration ---
    def sync_weights(self) -> None:
        self._pushes += 1
        if self.fault == "skip_weight_push" and self._pushes > 1:
            self.llm.reset_prefix_cache()
        else:
            self._sync()
        if self.fault != "stale_encoder_cache":
            self.llm.llm_engine.reset_encoder_cache()
        step = self.trainer.state.global_step
        if step % self.check_every == 0:
            self.check_weights(step)

    def generate(self, prompts, images, num_generations, profiler=None):
        self._gap_entries_before = len(self.trainer._metrics["train"].get(GAP_MEAN_METRIC) or [])
        sent = prompts
        if self.pad_id is not None and self.fault != "double_image_pads":
            sent = [collapse_image_pads(list(ids), self.pad_id) for ids in prompts]
        if images is not None and self.pixel_bounds is not None:
            images = [self._resized(row) if row is not None else None for row in images]
        used, completion_ids, logprobs, logprob_ids = self._generate(sent, images, num_generations, profiler)
        # One generation per checked rollout (a round under dynamic sampling): after_rollout reads and clears it.
        self._pending_prompt_mismatch = self._compare_prompts(prompts, used)
        return prompts, completion_ids, logprobs, logprob_ids

    def _resized(self, row: list):
        """Images at the size the trainer's processor gives them, so vLLM's processor (configured from the model
        dir, which a recipe's pixel bounds may override) makes the same number of image tokens."""
        out = []
        for image in row:
            size = self.pixel_bounds.processed_size(*image.size)
            out.append(image if image.size == size else image.resize(size))
        return out

    @staticmethod
    def _compare_prompts(wanted: list, used: list) -> str | None:
        if used is None or len(used) != len(wanted):
            return f"vLLM returned {'no' if used is None else len(used)} prompts for {len(wanted)}"
        for index, (a, b) in enumerate(zip(wanted, used, strict=True)):
            if list(a) != list(b):
                return f"row {index}: vLLM's prompt has {len(b)} tokens, the trainer's {len(a)}"
        return None

    # --- the checks ---
    def check_weights(self, step: int) -> None:
        """Every pushed tensor against the engine; all ranks iterate (gathers), then decide together."""
        started = time.perf_counter()
        try:
            comparison = compare_with_engine(self.engine_model(), pushed_weights(self.generation.model))
            problem = comparison.problem()
        except EnvironmentMissingError as exc:
            comparison, problem = WeightComparison(), str(exc)
        seconds = time.perf_counter() - started
        failed = self._any_rank(problem is not None)
        worst = self._worst_over_ranks(comparison.max_abs_diff)
        record = self.record
        record.weight_checks += 1
        record.weight_max_abs_diff = max(record.weight_max_abs_diff, worst)
        record.weight_tensors, record.weight_elements = comparison.tensors, comparison.elements
        record.weight_check_seconds += seconds
        metrics = {
            "vllm/weight_max_abs_diff": worst,
            "vllm/weights_compared": comparison.tensors,
            "vllm/weight_elements_compared": comparison.elements,
            "vllm/weights_differing": len(comparison.differing),
            "vllm/weight_check_seconds": seconds,
        }
        self._log(metrics)
        if failed:
            self._fail(step, f"vLLM weight read-back: {problem or 'failed on another process'}", metrics)

    def after_rollout(self) -> None:
        """After TRL scored a rollout (and computed vLLM's and the trainer's logprobs of it)."""
        step = self.trainer.state.global_step
        logged = self.trainer._metrics["train"]
        means, maxes = logged.get(GAP_MEAN_METRIC), logged.get(GAP_MAX_METRIC)
        if not means or not maxes or len(means) <= self._gap_entries_before:
            # Every rank runs the same TRL: all raise here together.
            raise EnvironmentMissingError(
                f"the vLLM rollout check cannot read the logprob gap: TRL {self.trl_version} logged no "
                f"{GAP_MEAN_METRIC!r} / {GAP_MAX_METRIC!r} for this rollout (lmmr1 is tested with TRL 1.16, which "
                "logs them with vllm_importance_sampling_correction)"
            )
        mean_gap, max_gap = float(means[-1]), float(maxes[-1])  # TRL gathers both over ranks
        mismatched = self._any_rank(self._pending_prompt_mismatch is not None)
        if mismatched and not self._pending_prompt_mismatch:
            self._pending_prompt_mismatch = "on another process"
        self.record.rollouts += 1
        self.record.largest_mean_logp_gap = max(self.record.largest_mean_logp_gap, mean_gap)
        metrics = {
            "vllm/logp_gap_mean": mean_gap,
            "vllm/logp_gap_max": max_gap,
            "vllm/logp_gap_tolerance": self.tolerance,
            "vllm/prompt_mismatch": float(mismatched),
        }
        self._log(metrics)
        problems = []
        if self._pending_prompt_mismatch:
            problems.append(f"vLLM generated from another prompt ({self._pending_prompt_mismatch})")
        if mean_gap > self.tolerance:
            problems.append(
                f"vLLM's sampling logprobs differ from the trainer's by {mean_gap:.3g} a token on average "
                f"(tolerance {self.tolerance:g})"
            )
        self._pending_prompt_mismatch = None
        if problems:
            self._fail(step, "; ".join(problems), metrics)

    def _worst_over_ranks(self, value: float) -> float:
        accelerator = self.trainer.accelerator
        if accelerator.num_processes == 1:
            return value
        import torch

        return accelerator.gather(torch.tensor([float(value)], device=accelerator.device)).max().item()

    def _any_rank(self, flag: bool) -> bool:
        return self._worst_over_ranks(float(flag)) > 0

    def _log(self, metrics: dict) -> None:
        for key, value in metrics.items():
            self.trainer._metrics["train"][key].append(float(value))

    def _fail(self, step: int, detail: str, metrics: dict) -> None:
        message = f"vLLM rollout check failed at step {step}: {detail} (docs/vllm.md)"
        self.record.failures.append(message)
        # Straight to metrics.jsonl and report_to: the run stops before its next log.
        self.trainer.log({**metrics, "vllm/check_failed": 1.0})
        raise RolloutConsistencyError(message)

    def summary(self) -> dict[str, Any]:
        record, colocate = self.record, self.mode == "colocate"
        checks = {
            "rollouts_checked": record.rollouts,
            "prompt_ids_compared": True,
            "logp_gap_tolerance": self.tolerance,
            "largest_mean_logp_gap": round(record.largest_mean_logp_gap, 5),
            "weight_checks": record.weight_checks,
            "weight_check_every": self.check_every if colocate else None,
            "weight_max_abs_diff": record.weight_max_abs_diff,
            "weight_tensors_compared": record.weight_tensors,
            "weight_elements_compared": record.weight_elements,
            "weight_check_seconds": round(record.weight_check_seconds, 3),
            "failures": record.failures,
        }
        if not colocate:
            checks["weights_not_compared"] = "server mode: the engine runs in another process"
        return {
            "backend": "vllm",
            "vllm_mode": self.mode,
            "vllm_version": self.vllm_version,
            "engine_dtype": self.engine_dtype() if colocate else None,
            "fault": self.fault,
            "checks": checks,
        }
