"""`export_model`: a run, checkpoint or model -> a standalone HF model dir (LoRA merged), proven by reload.

The export is written to a staging dir beside the target, reloaded from disk, and its greedy outputs on probe
prompts (one text-only, one with an image) must equal the in-memory model's token for token before the staging
dir is renamed into place. Any failure removes the staging dir, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from lmmr1_cli.atomic import remove_stale_partials, replace_dir, staging_dir_for, write_json_atomic
from lmmr1_cli.errors import ConfigError, ModelError, OutputExistsError
from lmmr1_cli.modeling import DTYPES, resolve_model

EXPORT_FILE = "export.json"
PROBE_TOKENS = 24
PROBE_PROBLEMS = ("What is 7 + 5?", "Find x in degrees.")  # the second one is asked about the probe image
Progress = Callable[[str], None]


def probe_image():
    """A fixed 56x56 image: two colour gradients and a diagonal line (no files, no randomness)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (56, 56))
    image.putdata([(4 * x, 4 * y, 128) for y in range(56) for x in range(56)])
    ImageDraw.Draw(image).line((0, 55, 55, 0), fill=(255, 255, 255), width=2)
    return image


def probe_tokens(model, processor, directory: Path) -> list[tuple[int, ...]]:
    """Greedy token ids for the probe prompts (text, and image when the model has a vision tower)."""
    from lmmr1_cli.evaluation.backends import HFBackend, Prompt, SamplingSettings
    from lmmr1_cli.prompts import build_conversation

    backend = HFBackend.from_loaded(model, processor)
    prompts = [Prompt(build_conversation(PROBE_PROBLEMS[0], 0))]
    if backend.vision:
        image_path = directory / "probe.png"
        probe_image().save(image_path)
        prompts.append(Prompt(build_conversation(PROBE_PROBLEMS[1], 1), [str(image_path)]))
    settings = SamplingSettings(max_new_tokens=PROBE_TOKENS)
    # One prompt per call: padding would make the two runs depend on batch composition.
    return [backend.generate([p], settings)[0][0].token_ids for p in prompts]


def _check_files(directory: Path) -> None:
    names = {p.name for p in directory.iterdir()}
    missing = [n for n in ("config.json", "generation_config.json") if n not in names]
    if not any(n.endswith(".safetensors") for n in names):
        missing.append("*.safetensors")
    template = (
        "chat_template.jinja" in names or "chat_template" in (directory / "tokenizer_config.json").read_text()
    )
    if not template:
        missing.append("chat template")
    if missing:
        raise ModelError(f"export is missing {', '.join(missing)}")


def export_model(
    ref: str, out_dir: Path, dtype: str | None = None, force: bool = False, progress: Progress | None = None
) -> dict:
    """Write the standalone model dir `out_dir`; returns what export.json records."""
    out_dir = Path(out_dir)
    if dtype is not None and dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype!r} unknown; expected one of {DTYPES}")
    if out_dir.exists() and not force:
        raise OutputExistsError(f"{out_dir} exists (use --force to replace it)")
    source = resolve_model(ref)
    import torch
    from safetensors import SafetensorError

    from lmmr1_cli.modeling import load_model, load_processor

    start = time.monotonic()
    step = progress or (lambda message: None)
    step("loading source model")
    model, processor = load_model(ref), load_processor(ref)
    info = {"source": source.location}
    if source.is_lora:
        info.update(lora_base=source.lora_base, lora_merged=True)
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    remove_stale_partials(out_dir)  # staging dirs of killed exports to the same output: a model's size each
    staging, scratch = staging_dir_for(out_dir), staging_dir_for(out_dir)
    try:
        step("writing safetensors, config, processor")
        try:
            model.save_pretrained(staging)
        except SafetensorError as exc:  # a full disk while writing weights surfaces as this, not OSError
            raise ModelError(f"{out_dir}: cannot write the weights ({' '.join(str(exc).split())})") from exc
        processor.save_pretrained(staging)
        _check_files(staging)
        step("verifying: reload and compare greedy outputs on probe prompts")
        expected = probe_tokens(model, processor, scratch)
        reloaded = load_model(str(staging), dtype)
        got = probe_tokens(reloaded, load_processor(str(staging)), scratch)
        if got != expected:
            bad = [i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b]
            raise ModelError(f"export check failed: reloaded model differs on probe prompt(s) {bad}")
        manifest = {
            **info,
            "ref": ref,
            "dtype": str(reloaded.dtype).removeprefix("torch."),
            "parameters": sum(p.numel() for p in reloaded.parameters()),
            "probes": len(expected),
            "probe_tokens": [len(t) for t in expected],
            "verified": True,
        }
        write_json_atomic(staging / EXPORT_FILE, manifest)
        replace_dir(staging, out_dir)  # the old export is kept until the new one is complete
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    manifest["output"] = str(out_dir)
    manifest["seconds"] = round(time.monotonic() - start, 2)
    return manifest
