"""The one resolver of model references (tiny, run dir, checkpoint, exported dir, LoRA adapter, HF id) and the
loaders train, eval (both backends) and export go through; a LoRA adapter loads as its base with it merged."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from lmmr1_cli.defaults import MODEL_DTYPES
from lmmr1_cli.errors import ModelError
from lmmr1_cli.rundir import BEST_DIR, BEST_SUFFIX, FINAL_DIR, last_checkpoint

TINY = "tiny"
HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DTYPES = MODEL_DTYPES
ADAPTER_CONFIG = "adapter_config.json"


@dataclass(frozen=True)
class ModelSource:
    """Where a model reference points: a model dir or HF id, or a LoRA adapter dir and the base it adapts."""

    location: str  # what from_pretrained reads (for LoRA: the adapter dir)
    lora_base: str | None = None  # the adapter's base_model_name_or_path; None for a full model

    @property
    def is_lora(self) -> bool:
        return self.lora_base is not None


def _adapter_base(adapter_dir: Path) -> str:
    config_path = adapter_dir / ADAPTER_CONFIG
    try:
        base = json.loads(config_path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{config_path}: not a PEFT adapter config ({exc})") from None
    if not base:
        raise ModelError(f"{config_path} names no base_model_name_or_path")
    return str(base)


def resolve_model(ref: str, check_hub: bool = True) -> ModelSource:
    """What `ref` names. Run dirs resolve to final/, else their newest complete checkpoint (the FRE -> MGT
    handoff); a dir holding only a PEFT adapter (a LoRA run) resolves to the adapter and its base model.
    `check_hub=False` takes an HF id as it is (a dry run or a SLURM script describes a job that may run where
    the hub is reachable; the login node need not be)."""
    if ref == TINY:
        from lmmr1_cli.tiny import tiny_model_dir

        return ModelSource(str(tiny_model_dir()))
    if ref.endswith(BEST_SUFFIX):
        return resolve_model(str(best_model_dir(ref)))
    _refuse_unknown_suffix(ref)
    path = Path(ref).expanduser()
    if path.is_dir():
        for candidate in (path, path / FINAL_DIR, last_checkpoint(path)):
            if candidate is None:
                continue
            if (candidate / "config.json").is_file():
                return ModelSource(str(candidate))
            if (candidate / ADAPTER_CONFIG).is_file():
                return ModelSource(str(candidate), _adapter_base(candidate))
        raise ModelError(f"{path}: not a model dir (no config.json), and no final/ model or checkpoint in it")
    if path.exists():
        raise ModelError(f"{path}: expected a model directory, got a file")
    if not HF_ID.match(ref) or ref.startswith((".", "/", "~")):
        raise ModelError(
            f"model '{ref}' not found: not `tiny`, not an existing directory, not an HF id like org/name"
        )
    if Path(ref.split("/")[0]).is_dir():
        # `runs/fer` beside an existing runs/: a mistyped local path, not a hub id worth minutes of retries.
        raise ModelError(
            f"{path}: no such directory (and {ref.split('/')[0]}/ is a local dir, so not an HF id)"
        )
    if check_hub:
        check_hub_model(ref)
    return ModelSource(ref)


def _refuse_unknown_suffix(ref: str) -> None:
    """`RUN@bst` (a run dir, then an @ suffix that is not @best): a typo of `RUN@best`, said as one."""
    run, sep, suffix = ref.rpartition("@")
    if sep and run and Path(run).expanduser().is_dir() and not Path(ref).expanduser().exists():
        raise ModelError(
            f"{ref}: {run} is a run dir but '@{suffix}' names nothing in it; did you mean '{run}{BEST_SUFFIX}' "
            f"(its best validation model)? Plain '{run}' is its final model"
        )


def best_model_dir(ref: str) -> Path:
    """RUN/best/ for `RUN@best`: the model saved at the run's best validation point (validation.py)."""
    run = Path(ref[: -len(BEST_SUFFIX)]).expanduser()
    if not run.is_dir():
        raise ModelError(f"{ref}: {run} is not a run dir")
    best = run / BEST_DIR
    if not best.is_dir():
        raise ModelError(
            f"{ref}: {run} has no best/ model (it never evaluated during training); train with "
            "--eval-data DIR (validation every eval.every_rollouts rollouts keeps the best model), or name "
            f"{run} for its final model"
        )
    return best


# A hub lookup is short and bounded: a few seconds per attempt, three attempts (HF_HUB_ETAG_TIMEOUT sets the
# per-attempt timeout, as it does for huggingface_hub's own metadata requests).
HUB_ATTEMPTS = 3
HUB_TIMEOUT_SECONDS = 5.0


@functools.lru_cache(maxsize=64)
def check_hub_model(repo_id: str) -> None:
    """An HF id that is in the local cache, or that the hub knows; else a ModelError saying why (offline, not
    found, gated) instead of transformers' minutes of retries. Checked once per process and id."""
    import os
    import time

    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        raise ModelError(
            f"model '{repo_id}': no such local dir, and not in the HF cache ({constants.HF_HUB_CACHE}) while "
            "offline (HF_HUB_OFFLINE=1); download it where there is network (`hf download ...`)"
        )
    timeout = float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or HUB_TIMEOUT_SECONDS)
    for attempt in range(1, HUB_ATTEMPTS + 1):
        try:
            HfApi().model_info(repo_id, timeout=timeout)
            return
        except GatedRepoError:
            raise ModelError(
                f"model '{repo_id}' is gated on the Hugging Face Hub: accept its terms and `hf auth login`"
            ) from None
        except RepositoryNotFoundError:
            raise ModelError(
                f"model '{repo_id}' not found: no such local dir, and not a model on the Hugging Face Hub"
            ) from None
        except Exception as exc:  # connection refused, DNS, timeout, 5xx: the same answer after the last try
            if attempt == HUB_ATTEMPTS:
                detail = " ".join(str(exc).split())[:160]
                raise ModelError(
                    f"model '{repo_id}': no such local dir, and the Hugging Face Hub is unreachable (offline?) "
                    f"after {HUB_ATTEMPTS} tries: {type(exc).__name__}: {detail}"
                ) from None
            time.sleep(0.5 * attempt)


def _load_error(ref: str, location: str, exc: Exception) -> ModelError:
    detail = " ".join(str(exc).split())[:300]
    where = f"'{ref}'" if location == ref else f"'{ref}' (resolved to {location})"
    return ModelError(f"cannot load model {where}: {type(exc).__name__}: {detail}")


def set_pixel_bounds(processor, min_pixels: int | None, max_pixels: int | None) -> None:
    """Apply Qwen smart_resize bounds to the image (and video) processor; None keeps the saved value."""
    for sub in (getattr(processor, "image_processor", None), getattr(processor, "video_processor", None)):
        if sub is None or not hasattr(sub, "size"):
            continue
        size = dict(sub.size)
        if min_pixels is not None:
            size["shortest_edge"] = min_pixels
        if max_pixels is not None:
            size["longest_edge"] = max_pixels
        sub.size = size
        for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and hasattr(sub, name):
                setattr(sub, name, value)


def load_processor(
    model_ref: str = TINY,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    trust_remote_code: bool = False,
):
    """The model's own processor (for Qwen2.5-VL: Qwen2_5_VLProcessor) with optional pixel bounds.

    A LoRA run's processor is the one saved beside its adapter (the trainer writes it), else its base model's.
    """
    from transformers import AutoProcessor

    source = resolve_model(model_ref)
    location = source.location
    if source.is_lora and not any(
        (Path(location) / name).is_file() for name in ("processor_config.json", "tokenizer_config.json")
    ):
        location = resolve_model(source.lora_base).location
    try:
        processor = AutoProcessor.from_pretrained(location, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise _load_error(model_ref, location, exc) from exc
    set_pixel_bounds(processor, min_pixels, max_pixels)
    return processor


def load_model(model_ref: str = TINY, dtype: str | None = None, trust_remote_code: bool = False):
    """An image-text-to-text model (Qwen2.5-VL and peers) in eval mode; a LoRA adapter is merged into its base."""
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForImageTextToText

    source = resolve_model(model_ref)
    if source.is_lora:
        from peft import PeftModel

        base = load_model(source.lora_base, dtype, trust_remote_code)
        try:
            model = PeftModel.from_pretrained(base, source.location).merge_and_unload()
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            raise _load_error(model_ref, source.location, exc) from exc
        # PEFT froze the base weights for adapter training; merged, they are the model and train like any other.
        model.requires_grad_(True)
        model.eval()
        return model
    torch_dtype = getattr(torch, dtype) if dtype else "auto"
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            source.location, dtype=torch_dtype, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # SafetensorError: truncated weights
        raise _load_error(model_ref, source.location, exc) from exc
    model.eval()
    return model


def save_merged_model(model_ref: str, out_dir: Path, dtype: str | None = None) -> Path:
    """A LoRA run as a plain model dir (adapter merged, processor beside it), for loaders that take only a full
    model (vLLM). Written atomically."""
    from lmmr1_cli.atomic import atomic_dir

    model, processor = load_model(model_ref, dtype), load_processor(model_ref)
    with atomic_dir(Path(out_dir)) as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
    return Path(out_dir)
