"""Resolve a model reference (tiny, run dir, checkpoint, exported dir, HF id) and load it through from_pretrained."""

from __future__ import annotations

import re
from pathlib import Path

from lmmr1_cli.errors import ModelError

TINY = "tiny"
HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
RUN_FINAL = "final"
RUN_CHECKPOINTS = "checkpoints"


def last_checkpoint(run_dir: Path) -> Path | None:
    """Newest complete `checkpoint-N` of a run (TRL writes `trainer_state.json` last, so it marks completeness)."""
    ckpt_root = Path(run_dir) / RUN_CHECKPOINTS
    if not ckpt_root.is_dir():
        return None
    done = [
        p
        for p in ckpt_root.glob("checkpoint-*")
        if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def resolve_model_ref(ref: str) -> str:
    """A path or HF id that from_pretrained accepts.

    Run dirs resolve to their final model, else their newest complete checkpoint (the FRE -> MGT handoff).
    """
    if ref == TINY:
        from lmmr1_cli.tiny import tiny_model_dir

        return str(tiny_model_dir())
    path = Path(ref).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return str(path)
        if (path / RUN_FINAL / "config.json").is_file():
            return str(path / RUN_FINAL)
        checkpoint = last_checkpoint(path)
        if checkpoint is not None:
            return str(checkpoint)
        raise ModelError(f"{path}: not a model dir (no config.json), and no final/ model or checkpoint in it")
    if path.exists():
        raise ModelError(f"{path}: expected a model directory, got a file")
    if HF_ID.match(ref) and not ref.startswith((".", "/", "~")):
        return ref
    raise ModelError(
        f"model '{ref}' not found: not `tiny`, not an existing directory, not an HF id like org/name"
    )


def _load_error(ref: str, exc: Exception) -> ModelError:
    detail = " ".join(str(exc).split())[:300]
    return ModelError(f"cannot load model '{ref}': {type(exc).__name__}: {detail}")


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
    """The model's own processor (for Qwen2.5-VL: Qwen2_5_VLProcessor) with optional pixel bounds."""
    from transformers import AutoProcessor

    resolved = resolve_model_ref(model_ref)
    try:
        processor = AutoProcessor.from_pretrained(resolved, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise _load_error(model_ref, exc) from exc
    set_pixel_bounds(processor, min_pixels, max_pixels)
    return processor


def load_model(model_ref: str = TINY, dtype: str | None = None, trust_remote_code: bool = False):
    """An image-text-to-text model (Qwen2.5-VL and peers) in eval mode."""
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForImageTextToText

    resolved = resolve_model_ref(model_ref)
    torch_dtype = getattr(torch, dtype) if dtype else "auto"
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            resolved, dtype=torch_dtype, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # SafetensorError: truncated weights
        raise _load_error(model_ref, exc) from exc
    model.eval()
    return model
