"""The embedded default model: a tiny, real Qwen2.5-VL with a tokenizer this project builds itself.

`--model tiny` resolves to the build shipped inside the package (`lmmr1_cli/tiny_model/`, 1.4 MB), so every later
step goes through the same `from_pretrained` path a user hits with `Qwen/Qwen2.5-VL-3B-Instruct`. It is shipped,
not built on first use, because the build is not the same on every machine: a CPU's SIMD width reorders float sums,
and an AVX2 machine's build of the same code and seed scored 53.9% on held-out pictures where the AVX-512 build
scores 35.9% (issue 19). `lmmr1 tiny --rebuild -o DIR` (`make tiny-rebuild`) runs the build below from scratch. A model trained from random init never
finds `<think>…</think><answer>…</answer>` by chance (measured in shared/DESIGN.md), so the build gives it a way
in: the four tags are single tokens, and a supervised warm-up teaches the shape of an answer on single-digit
additions written "What is 3 + 4?" only. RL then has a format signal from step one and accuracy left to learn.
The warm-up is long enough (600 steps) for the model to read its prompt: after 120 steps it wrote one constant
answer whatever the question (sums 8% right, loss 0.62), and RL could then only learn a constant answer; after
600 it adds (72%, loss 0.05), and RL teaches it new tasks in 150 steps (docs/ablation.md).

A real LMM's vision encoder arrives pre-trained and aligned to its language model; a randomly initialised one
sees nothing, and neither supervised nor RL steps at demo scale taught it to (docs/ablation.md). So the build
ends with a vision alignment stage, as LLaVA-style projector pre-training does: only the vision tower trains,
until each 28-pixel cell of a digit picture comes out as the text embedding of the digit drawn in it. The model
can then see digits without having been taught any question about pictures; what to do with them is RL's job.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

from lmmr1_cli.atomic import atomic_dir, write_json_atomic
from lmmr1_cli.errors import ModelError, OutputExistsError
from lmmr1_cli.prompts import SYSTEM_PROMPT, build_conversation

# Bump when anything below changes what gets built, and ship the new build (`make tiny-rebuild`).
TINY_VERSION = "3"
DEFAULT_SEED = 0
SHIPPED_DIR = Path(__file__).with_name("tiny_model")
# build_sha256 of the shipped build: TINY_VERSION 3, seed 0, full steps, torch 2.14.1 and transformers 5.25.0 on a
# 2-core AMD EPYC with AVX-512, the kernels README's numbers were measured on. A rebuild elsewhere differs (another
# SIMD width reorders float sums; config.json names the transformers version) and is a different model.
SHIPPED_SHA256 = "64fc4398b5d39f3503329255b9c20cfc1971f78eb4e4f9c2d1d4ecb90b1e68ec"
REASONING_TAGS = ["<think>", "</think>", "<answer>", "</answer>"]
# Qwen2.5-VL's special tokens, in Qwen's order, so the processor and the model config find the ids they expect.
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Qwen2.5-VL-Instruct's chat template (tokenizer_config.json of the released checkpoints).
QWEN_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Pixel bounds for the tiny model: 4 to 16 merged vision tokens per image keeps CPU steps fast.
TINY_MIN_PIXELS = 4 * 28 * 28
TINY_MAX_PIXELS = 16 * 28 * 28
TINY_VOCAB_SIZE = 768
WARMUP_STEPS = 600  # 120 left the model blind to its prompt (module docstring)
WARMUP_BATCH = 16
WARMUP_LR = 3e-3
# Vision alignment: 700 steps took per-cell digit reading from chance to 100% (measured); 800 leaves a margin.
ALIGN_STEPS = 800
ALIGN_BATCH = 16
ALIGN_LR = 2e-3
BLANK_CELL_TOKEN = "Ġ"  # a space: what an empty cell of a picture should look like to the language model


def build_sha256(model_dir: Path) -> str:
    """One digest of every file in a build: `cd DIR && LC_ALL=C sha256sum * | sha256sum` prints the same."""
    lines = []
    for path in sorted(Path(model_dir).iterdir(), key=lambda p: p.name.encode()):
        if path.is_file():
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def tiny_model_dir() -> Path:
    """The shipped tiny model's directory; never builds (an install without it is broken, not a cache miss)."""
    if not (SHIPPED_DIR / "config.json").is_file():
        raise ModelError(
            f"the tiny model is missing from {SHIPPED_DIR} (a broken install?): reinstall lmmr1, or build one with "
            "`lmmr1 tiny --rebuild -o DIR` and pass --model DIR"
        )
    return SHIPPED_DIR


def shipped_tiny_model() -> dict:
    """The shipped build's info (lmmr1_tiny.json) with its path and sha256, checked against SHIPPED_SHA256."""
    model_dir = tiny_model_dir()
    sha256 = build_sha256(model_dir)
    if sha256 != SHIPPED_SHA256:
        raise ModelError(
            f"{model_dir}: the files' sha256 {sha256[:12]} is not the recorded {SHIPPED_SHA256[:12]} (modified or "
            "damaged install): reinstall lmmr1"
        )
    info = json.loads((model_dir / "lmmr1_tiny.json").read_text())
    return {
        **info,
        "output": str(model_dir),
        "sha256": sha256,
        "shipped_sha256": SHIPPED_SHA256,
        "identical_to_shipped": True,
    }


def rebuild_tiny_model(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    warmup_steps: int = WARMUP_STEPS,
    align_steps: int = ALIGN_STEPS,
) -> dict:
    """Build the tiny model from scratch into `out_dir` (atomically); returns the build info with its sha256 and
    whether it is byte-identical to the shipped build (expected only on an AVX-512 CPU, seed 0, full steps)."""
    out_dir = Path(out_dir)
    if out_dir.resolve() == SHIPPED_DIR.resolve():
        raise OutputExistsError(f"{out_dir} is the shipped build; rebuild elsewhere and compare the sha256")
    if out_dir.exists() and not force and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputExistsError(f"{out_dir} exists (use --force to replace it)")
    with atomic_dir(out_dir) as staging:
        info = build_tiny_model(
            staging, seed=seed, progress=progress, warmup_steps=warmup_steps, align_steps=align_steps
        )
    sha256 = build_sha256(out_dir)
    return {
        **info,
        "output": str(out_dir),
        "sha256": sha256,
        "shipped_sha256": SHIPPED_SHA256,
        "identical_to_shipped": sha256 == SHIPPED_SHA256,
    }


def _tokenizer_corpus(seed: int) -> list[str]:
    """A fixed corpus for BPE: the prompt, math and geometry words, LaTeX; digits stay single (Qwen's regex)."""
    rng = random.Random(seed)
    words = (
        "what is the sum difference product of and plus minus times divided by a an the find value angle "
        "triangle circle radius area circumference degrees length side hypotenuse parallel lines right "
        "shown figure in if has apples each box how many total left gives buys more than less "
        "solve for x y answer reasoning so therefore because equals sqrt pi frac cdot circ text option "
        "which following choose correct move up down left right push player wall goal level sokoban "
    ).split()
    lines = [SYSTEM_PROMPT] * 20
    lines += [
        "\\frac{1}{2} \\sqrt{3} \\pi 60^\\circ \\boxed{5} \\times \\cdot \\text{cm} (A) (B) (C) (D)"
    ] * 20
    for _ in range(3000):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        op = rng.choice(["+", "-", "*", "\\times"])
        lines.append(f"What is {a} {op} {b}? {a} {op} {b} = {a + b}")
        lines.append(" ".join(rng.choice(words) for _ in range(12)).capitalize() + "?")
    return lines


def build_tokenizer(seed: int = DEFAULT_SEED):
    """A byte-level BPE tokenizer with Qwen's pre-tokenizer, special tokens and chat template."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    from transformers import AddedToken, Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    trainer_tok = Tokenizer(BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    trainer_tok.train_from_iterator(_tokenizer_corpus(seed), trainer=trainer)
    model = json.loads(trainer_tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
    )
    tokenizer.add_tokens([AddedToken(t, special=True) for t in QWEN_SPECIAL_TOKENS], special_tokens=True)
    # Not special: TRL decodes completions with skip_special_tokens=True and the rewards must see the tags.
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in REASONING_TAGS])
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    tokenizer.model_max_length = 4096
    return tokenizer


def build_processor(tokenizer):
    """The real Qwen2_5_VLProcessor around our tokenizer, with the tiny pixel bounds."""
    from transformers import Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    image_processor = Qwen2VLImageProcessor(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    video_processor = Qwen2VLVideoProcessor(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=QWEN_CHAT_TEMPLATE,
    )


def build_config(tokenizer):
    """A few-hundred-thousand-parameter Qwen2.5-VL; head_dim 32 because vLLM's CPU attention rejects 16."""
    from transformers import Qwen2_5_VLConfig

    ids = tokenizer.convert_tokens_to_ids
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, 6]},
        "bos_token_id": ids("<|endoftext|>"),
        "eos_token_id": ids("<|im_end|>"),
        "pad_token_id": ids("<|endoftext|>"),
        "tie_word_embeddings": True,
    }
    vision_config = {
        "depth": 2,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_heads": 2,
        "out_hidden_size": 64,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [1],
    }
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )


def _warmup_examples(rng: random.Random, count: int) -> list[tuple[str, str, bool]]:
    """(problem, target completion, has_image): single-digit sums, a quarter of them with an image attached."""
    examples = []
    for _ in range(count):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        problem = f"What is {a} + {b}?"
        target = f"<think>{a} + {b} = {a + b}</think><answer>{a + b}</answer>"
        examples.append((problem, target, rng.random() < 0.25))
    return examples


def _warmup_image(rng: random.Random):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (56, 56), "white")
    draw = ImageDraw.Draw(image)
    draw.polygon([(rng.randint(0, 55), rng.randint(0, 55)) for _ in range(3)], outline="black")
    return image


def format_warmup(model, processor, seed: int, steps: int = WARMUP_STEPS) -> list[float]:
    """Supervised steps on chat-formatted tagged answers; returns the loss per step."""
    import torch

    rng = random.Random(seed)
    tokenizer = processor.tokenizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=WARMUP_LR)
    model.train()
    losses = []
    for _ in range(steps):
        batch = _warmup_examples(rng, WARMUP_BATCH)
        texts, images, prompt_lens = [], [], []
        for problem, target, has_image in batch:
            messages = build_conversation(problem, 1 if has_image else 0)
            prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            texts.append(prompt + target + "<|im_end|>")
            if has_image:
                images.append(_warmup_image(rng))
        tokenizer.padding_side = "right"
        enc = processor(text=texts, images=images or None, return_tensors="pt", padding=True)
        labels = enc["input_ids"].clone()
        labels[enc["attention_mask"] == 0] = -100
        # Only the completion is supervised: mask everything up to and including "assistant\n".
        start_id = tokenizer.convert_tokens_to_ids("<|im_start|>")
        for i in range(labels.shape[0]):
            positions = (enc["input_ids"][i] == start_id).nonzero().flatten()
            prompt_end = int(positions[-1]) + 3  # <|im_start|> assistant \n
            labels[i, :prompt_end] = -100
            prompt_lens.append(prompt_end)
        loss = model(**enc, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def _alignment_batch(rng: random.Random, tokenizer) -> tuple[list, list[int]]:
    """ALIGN_BATCH digit pictures (1-4 digits in random cells) and each merged token's target token id, row-major."""
    from lmmr1_cli.data.synthetic.largest_picture import GRID, draw_digits

    blank = tokenizer.convert_tokens_to_ids(BLANK_CELL_TOKEN)
    images, targets = [], []
    for _ in range(ALIGN_BATCH):
        cells = rng.sample([(row, col) for row in range(GRID) for col in range(GRID)], rng.randint(1, 4))
        digits = {cell: rng.randint(0, 9) for cell in cells}
        images.append(draw_digits(digits))
        for row in range(GRID):
            for col in range(GRID):
                digit = digits.get((row, col))
                targets.append(blank if digit is None else tokenizer.convert_tokens_to_ids(str(digit)))
    return images, targets


def vision_alignment(model, processor, seed: int, steps: int = ALIGN_STEPS) -> dict:
    """Train only the vision tower so each picture cell's merged token equals its digit's text embedding.

    Returns the last loss and the per-cell digit accuracy of the last batch (nearest text embedding = the digit).
    """
    import torch

    rng = random.Random(f"align:{seed}")
    visual = model.model.visual
    embeddings = model.get_input_embeddings().weight.detach()

    def cell_features(images: list):
        pixels = processor.image_processor(images=images, return_tensors="pt")
        return visual(pixels["pixel_values"], grid_thw=pixels["image_grid_thw"]).pooler_output

    # A freshly initialised tower's outputs are ~300x the text embeddings' scale (measured), and the language model
    # then sees every cell as the same huge vector: start the merger's output layer at the embeddings' scale.
    images, _ = _alignment_batch(rng, processor.tokenizer)
    with torch.no_grad():
        features = cell_features(images)
        output_layer = visual.merger.mlp[-1]
        scale = embeddings.pow(2).mean().sqrt() / features.pow(2).mean().sqrt()
        output_layer.weight.mul_(scale)
        output_layer.bias.mul_(scale)
    optimizer = torch.optim.AdamW(visual.parameters(), lr=ALIGN_LR)
    visual.train()
    for _ in range(steps):
        images, targets = _alignment_batch(rng, processor.tokenizer)
        features = cell_features(images)
        wanted = embeddings[torch.tensor(targets)]
        loss = torch.nn.functional.mse_loss(features, wanted) / wanted.pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    visual.eval()
    targets_t = torch.tensor(targets)
    is_digit = targets_t != processor.tokenizer.convert_tokens_to_ids(BLANK_CELL_TOKEN)
    nearest = torch.cdist(features.detach(), embeddings).argmin(-1)
    return {
        "vision_alignment_loss_last": loss.item(),
        "vision_digit_accuracy": (nearest[is_digit] == targets_t[is_digit]).float().mean().item(),
    }


def build_tiny_model(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
    *,
    warmup_steps: int = WARMUP_STEPS,
    align_steps: int = ALIGN_STEPS,
) -> dict:
    """Build tokenizer, processor and model, warm up the format, align the vision tower, save all to `out_dir`.

    The step counts are parameters only so tests can check the build's determinism without paying for a full one.
    """
    import torch

    torch.manual_seed(seed)
    # One thread: a 64-wide model gains nothing from two, and OpenMP threads spinning against other processes
    # made this build 10x slower on a busy 2-core machine (measured: 21 s with 1 thread, 271 s with 2).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _build(out_dir, seed, progress, warmup_steps, align_steps)
    finally:
        torch.set_num_threads(threads)


def _build(
    out_dir: Path, seed: int, progress: Callable[[str], None] | None, warmup_steps: int, align_steps: int
) -> dict:
    import torch  # noqa: F401
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    report = progress or (lambda message: None)
    report("building tokenizer")
    tokenizer = build_tokenizer(seed)
    processor = build_processor(tokenizer)
    config = build_config(tokenizer)
    model = Qwen2_5_VLForConditionalGeneration(config)
    report(f"format warm-up ({warmup_steps} steps)")
    losses = format_warmup(model, processor, seed, warmup_steps)
    report(f"vision alignment ({align_steps} steps)")
    alignment = vision_alignment(model, processor, seed, align_steps)
    eos_ids = [
        tokenizer.convert_tokens_to_ids("<|im_end|>"),
        tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    ]
    model.generation_config = GenerationConfig(
        eos_token_id=eos_ids, pad_token_id=tokenizer.pad_token_id, do_sample=False, max_new_tokens=64
    )
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    info = {
        "tiny_version": TINY_VERSION,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "warmup_loss_first": losses[0],
        "warmup_loss_last": losses[-1],
        **alignment,
    }
    write_json_atomic(out_dir / "lmmr1_tiny.json", info)
    return info
