"""Training configuration: dataclasses with help text, filled from a recipe YAML, a user YAML and key=value overrides.

Precedence (later wins): dataclass defaults < `--recipe` < `--config FILE` < `section.key=value` overrides.
Unknown keys and wrong types are `ConfigError`s that name the key and suggest the closest valid one.

The dataclass defaults are the paper's shared values (LMM-R1's released scripts, shared/DESIGN.md "Stage recipes");
each recipe YAML restates the values its script sets, next to the script's flag name. No other module repeats a
default: code reads it from a config, and values other modules need too (the verifier limit) live in defaults.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import reprlib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lmmr1_cli.batching import BatchShape, check_shape
from lmmr1_cli.defaults import EVAL_BATCH_SIZE, MODEL_DTYPES, VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.yaml_numbers import load_yaml


def config_field(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field whose help text is shown by `--dry-run`, the docs and error messages."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass
class ModelConfig:
    name_or_path: str = config_field(
        "Qwen/Qwen2.5-VL-3B-Instruct", "HF id, local dir, run dir, or `tiny` (embedded)."
    )
    min_pixels: int | None = config_field(
        3136, "Processor min_pixels (Qwen smart_resize lower bound); null keeps the model's."
    )
    max_pixels: int | None = config_field(
        # 640 x 28 x 28: OpenRLHF's --max_pixels default when the paper's runs were made (commit 9cb1513).
        501760,
        "Processor max_pixels (image tokens x 784); 640 x 28 x 28 as in the paper's runs; null keeps the model's.",
    )
    freeze_vision_tower: bool = config_field(False, "Freeze the vision encoder (LMM-R1 sokoban scripts do).")
    lora_r: int = config_field(0, "LoRA rank; 0 trains all weights. `lmmr1 export` merges LoRA adapters.")
    lora_alpha: int = config_field(32, "LoRA alpha.")
    lora_dropout: float = config_field(0.05, "LoRA dropout.")
    lora_target_modules: list[str] = config_field(
        ["q_proj", "k_proj", "v_proj", "o_proj"], "Modules LoRA wraps."
    )
    dtype: str = config_field(
        "bfloat16", "Weights dtype on GPU: bfloat16, float16 or float32 (CPU runs use float32)."
    )
    gradient_checkpointing: bool = config_field(
        True, "Recompute activations in backward: True reduces memory, costs ~30% speed."
    )
    trust_remote_code: bool = config_field(
        False, "Allow model repos to run their own code. Off unless you trust the repo."
    )
    system_prompt: str = config_field(
        "auto",
        "auto: a row's own system message (LMM-R1 message JSONL carries one), else the paper's R1 prompt "
        "(App. E); r1, tiny or none by name; any other text as it is.",
    )


@dataclass
class BatchConfig:
    """A run's shape in the meanings of the official scripts' flags, all processes together; batching.py maps it
    onto TRL's per-device batch, accumulation and generation batch for the process count."""

    prompts_per_rollout: int = config_field(
        256, "Prompts sampled per rollout, all processes together (OpenRLHF --rollout_batch_size)."
    )
    samples_per_prompt: int = config_field(
        16, "Completions per prompt, the group (--n_samples_per_prompt; TRL num_generations)."
    )
    samples_per_step: int = config_field(
        256,
        "Completions per optimizer step, all processes together (--train_batch_size); one rollout feeds "
        "prompts_per_rollout x samples_per_prompt / samples_per_step optimizer steps.",
    )
    micro_batch_size: int = config_field(
        2, "Completions per process per forward/backward (--micro_train_batch_size); lower saves memory."
    )
    passes_per_rollout: int = config_field(
        1, "Optimizer passes over one rollout before the next (--max_epochs; TRL num_iterations)."
    )
    episodes: int = config_field(
        2,
        "Passes over the training prompts (--num_episodes; TRL num_train_epochs); run.max_steps > 0 caps it.",
    )

    def shape(self) -> BatchShape:
        return BatchShape(**dataclasses.asdict(self))


@dataclass
class RolloutConfig:
    temperature: float = config_field(1.0, "Sampling temperature for rollouts.")
    top_p: float = config_field(1.0, "Nucleus sampling for rollouts.")
    max_completion_length: int = config_field(4096, "Max new tokens per completion (--generate_max_len).")
    prompt_max_len: int | None = config_field(
        4096,
        "Prompts longer than this many tokens (chat template and image tokens included) are dropped before "
        "training and counted in summary.json (--prompt_max_len; OpenRLHF truncated them); null: no cap.",
    )
    use_vllm: bool = config_field(
        False, "Generate with vLLM (CUDA, or vLLM's CPU build: `make setup-vllm`); docs/vllm.md."
    )
    vllm_mode: str = config_field(
        "colocate", "colocate (vLLM shares the training GPUs) or server (`trl vllm-serve` node)."
    )
    vllm_gpu_memory_utilization: float = config_field(
        0.5, "colocate: GPU memory fraction for vLLM: lower leaves more for training."
    )
    vllm_enable_sleep_mode: bool = config_field(
        True, "colocate: offload vLLM weights/cache during the optimizer step."
    )
    vllm_server_host: str = config_field("0.0.0.0", "server mode: host of the `trl vllm-serve` node.")
    vllm_server_port: int = config_field(8000, "server mode: port of the `trl vllm-serve` node.")
    vllm_tensor_parallel_size: int = config_field(1, "Tensor parallel size of vLLM.")
    vllm_sync_check_every: int = config_field(
        1,
        "Every N optimizer steps (colocate mode), read every pushed weight back from the vLLM engine through its "
        "own loader and compare it with the trainer's (a lost weight push stops the run; docs/vllm.md).",
    )
    vllm_logp_gap_tolerance: float = config_field(
        0.1,
        "Stop the run when vLLM's sampling logprobs differ from the trainer's on a rollout by more than this, a "
        "token on average (bfloat16 engines measure ~0.02; a wrong prompt or stale weights 1-3).",
    )
    dynamic_sampling: bool = config_field(
        False,
        "Drop prompt groups whose rewards all tie (advantage 0, no gradient) and sample further prompts until the "
        "rollout is full (DAPO; EasyR1/verl filter_groups); dynamic_sampling.py.",
    )
    max_sampling_rounds: int = config_field(
        3,
        "dynamic_sampling: extra generation rounds per rollout at most; a rollout still short trains on its varied "
        "groups only (metric dynamic_sampling/filled < 1).",
    )
    completions_per_generate: int = config_field(
        0,
        "transformers generation (no vLLM): completions per generate call; 0 = as many as half the free GPU memory "
        "holds as KV cache, in whole groups (on a CPU: the whole rollout in one call); generation_batch.py.",
    )


@dataclass
class AlgorithmConfig:
    kl_coef: float = config_field(
        0.001, "KL coefficient (TRL `beta`, a k3 loss term; LMM-R1 used a k1 reward penalty)."
    )
    clip_eps: float = config_field(0.2, "PPO clip range (TRL `epsilon`).")
    scale_rewards: str = config_field(
        "batch", "Advantage scaling: batch = REINFORCE++-baseline; group = GRPO; none."
    )
    loss_type: str = config_field(
        "bnpo",
        "TRL loss aggregation: bnpo = token mean per micro batch (OpenRLHF's token-level loss), dapo = token mean "
        "per optimizer step, grpo = per-sequence mean, dr_grpo.",
    )


@dataclass
class OptimConfig:
    learning_rate: float = config_field(1e-6, "Peak learning rate.")
    adam_beta1: float = config_field(0.9, "Adam beta1.")
    adam_beta2: float = config_field(0.95, "Adam beta2.")
    weight_decay: float = config_field(0.0, "AdamW weight decay.")
    lr_scheduler: str = config_field("cosine_with_min_lr", "transformers scheduler name.")
    min_lr_ratio: float = config_field(0.1, "Final lr as a fraction of peak (cosine_with_min_lr).")
    warmup_ratio: float = config_field(0.03, "Fraction of steps spent warming up.")
    max_grad_norm: float = config_field(1.0, "Gradient clipping.")


@dataclass
class RewardConfig:
    mode: str = config_field(
        "paper",
        "paper: the official LMM-R1 format and accuracy rules, reproduced exactly (math-verify over the whole "
        "response; the official Sokoban reward); strict: lmmr1's verifier (the <answer> span only, guarded "
        "math-verify, choice letters; Sokoban solved or not). docs/recipes.md compares them.",
    )
    format_weight: float = config_field(
        0.5, "Weight of the format rule (<think>…</think><answer>…</answer>)."
    )
    accuracy_weight: float = config_field(1.0, "Weight of the accuracy rule (see rewards.mode).")
    custom: list[str] = config_field(
        [], "Extra reward functions as `path/to/file.py:function`, weight 1.0 each."
    )
    verify_timeout: float = config_field(
        VERIFY_TIMEOUT_SECONDS, "Wall-clock limit per verification, seconds; a timeout scores 0."
    )


@dataclass
class RunConfig:
    max_steps: int = config_field(-1, "Optimizer steps; -1 runs batch.episodes over the data.")
    save_every_rollouts: int = config_field(
        20, "Checkpoint every N rollouts (--save_steps, which OpenRLHF counts in rollouts)."
    )
    save_total_limit: int | None = config_field(None, "Keep only the newest N checkpoints; null keeps all.")
    logging_steps: int = config_field(1, "Log metrics every N steps.")
    seed: int = config_field(42, "Seed for data order, sampling and init.")
    report_to: list[str] = config_field(
        [], "Extra trackers: tensorboard, wandb (metrics.jsonl is always written)."
    )
    use_cpu: bool = config_field(False, "Train on CPU (set automatically when no CUDA device is present).")
    limit_train_rows: int | None = config_field(None, "Use only the first N training rows (smoke tests).")


@dataclass
class EvalConfig:
    """Validation during training (validation.py): `lmmr1 eval`'s library on held-out sets every N rollouts;
    `None` generation values mean "the protocol's", exactly as for `lmmr1 eval`."""

    sets: list[str] = config_field(
        [], "Held-out dataset dirs, NAME=DIR or DIR (named after the dir); --eval-data adds one."
    )
    every_rollouts: int = config_field(10, "Evaluate every N rollouts (only with eval.sets).")
    before_training: bool = config_field(False, "Also evaluate before the first step (a step-0 point).")
    limit: int | None = config_field(None, "Evaluate only the first N rows of each set; null: all rows.")
    protocol: str = config_field("auto", "auto, paper or lmmr1, as `lmmr1 eval --protocol`.")
    max_new_tokens: int | None = config_field(None, "Max new tokens; null: the protocol's (lmmr1: 512).")
    temperature: float = config_field(0.0, "0 is greedy (the default of `lmmr1 eval`).")
    top_p: float = config_field(1.0, "Nucleus sampling when temperature > 0.")
    samples: int = config_field(1, "Completions per row (mean@k); k > 1 needs temperature > 0.")
    seed: int = config_field(0, "Sampling seed when temperature > 0.")
    batch_size: int = config_field(EVAL_BATCH_SIZE, "Rows per generate call.")
    system_prompt: str | None = config_field(
        None, "r1, tiny, none or a text; null: the protocol's rule, as `lmmr1 eval`."
    )
    best_metric: str | None = config_field(
        None,
        "Metric that picks best/: eval/NAME/accuracy or eval/NAME/format; null: the first set's accuracy.",
    )
    best_mode: str = config_field("max", "max or min: which direction of eval.best_metric is better.")


@dataclass
class TrainConfig:
    recipe: str = config_field("custom", "Recipe this config came from.")
    stage: str = config_field("fre", "fre or mgt.")
    description: str = config_field("", "What this recipe is for.")
    model: ModelConfig = field(default_factory=ModelConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    rewards: RewardConfig = field(default_factory=RewardConfig)
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


CHOICES = {
    "stage": {"fre", "mgt"},
    "rollout.vllm_mode": {"colocate", "server"},
    "algorithm.scale_rewards": {"batch", "group", "none"},
    "rewards.mode": {"paper", "strict"},
    "algorithm.loss_type": {"dapo", "grpo", "dr_grpo", "bnpo"},
    "model.dtype": set(MODEL_DTYPES),
    "eval.best_mode": {"max", "min"},
    "eval.protocol": {"auto", "paper", "lmmr1"},
}


def list_recipes() -> list[str]:
    """Names of the stage recipes shipped in the package."""
    files = resources.files("lmmr1_cli") / "recipes"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def read_yaml(path_or_text: Path | str, label: str) -> dict:
    """Safe-load a YAML mapping; anything else is a ConfigError naming `label`."""
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: invalid YAML ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: expected a mapping of keys, got {type(data).__name__}")
    return data


def recipe_dict(name: str) -> dict:
    known = list_recipes()
    if name not in known:
        hint = difflib.get_close_matches(name, known, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        raise ConfigError(f"unknown recipe '{name}'{suggestion} (known: {', '.join(known)})")
    text = (resources.files("lmmr1_cli") / "recipes" / f"{name}.yaml").read_text(encoding="utf-8")
    return read_yaml(text, f"recipe {name}")


# Error messages show a bounded repr of the offending value: a YAML alias bomb (billion laughs) loads as a small
# graph of shared lists, but its full repr would be 10**9 items.
_short = reprlib.Repr()
_short.maxlevel, _short.maxlist, _short.maxdict, _short.maxstring, _short.maxother = 2, 4, 4, 60, 60


def _shown(value: Any) -> str:
    text = _short.repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a field annotation; ints are accepted for floats and whole floats (`1e6`, the YAML
    spelling of a pixel count) for ints; nothing else is converted."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_shown(value)}")
        return [_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is bool and not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {_shown(value)}")
    if annotation is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if annotation is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{key}: expected an integer, got {_shown(value)}")
    if not isinstance(value, annotation):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {_shown(value)}")
    return value


def _apply(obj: Any, data: dict, source: str, prefix: str = "") -> None:
    types_by_name = _field_types(type(obj))
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in types_by_name:
            raise ConfigError(f"{source}: unknown key '{dotted}'{_suggestion(dotted, prefix, types_by_name)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{source}: '{dotted}' is a section; expected a mapping, got {_shown(value)}"
                )
            _apply(current, value, source, prefix=f"{dotted}.")
            continue
        coerced = _coerce(value, types_by_name[key], f"{source}: {dotted}")
        allowed = CHOICES.get(dotted)
        if allowed and coerced not in allowed:
            raise ConfigError(f"{source}: {dotted} must be one of {sorted(allowed)}, got {_shown(coerced)}")
        setattr(obj, key, coerced)


# Keys that moved to the `batch` section (and the save interval, now counted in rollouts), then the official
# scripts' and TRL's names for the same knobs: a user who types one is told the lmmr1 key.
RENAMED_KEYS = {
    "rollout.prompts_per_step": "batch.prompts_per_rollout",
    "rollout.num_generations": "batch.samples_per_prompt",
    "rollout.micro_batch_size": "batch.micro_batch_size",
    "algorithm.num_iterations": "batch.passes_per_rollout",
    "run.num_epochs": "batch.episodes",
    "run.save_steps": "run.save_every_rollouts",
}
FOREIGN_NAMES = {
    "rollout_batch_size": "batch.prompts_per_rollout",
    "generation_batch_size": "batch.prompts_per_rollout",
    "n_samples_per_prompt": "batch.samples_per_prompt",
    "num_generations": "batch.samples_per_prompt",
    "train_batch_size": "batch.samples_per_step",
    "gradient_accumulation_steps": "batch.samples_per_step",
    "steps_per_generation": "batch.samples_per_step",
    "micro_train_batch_size": "batch.micro_batch_size",
    "per_device_train_batch_size": "batch.micro_batch_size",
    "max_epochs": "batch.passes_per_rollout",
    "num_iterations": "batch.passes_per_rollout",
    "num_episodes": "batch.episodes",
    "num_train_epochs": "batch.episodes",
    "generate_max_len": "rollout.max_completion_length",
    "max_prompt_length": "rollout.prompt_max_len",
    "actor_learning_rate": "optim.learning_rate",
    "init_kl_coef": "algorithm.kl_coef",
    "save_steps": "run.save_every_rollouts",
    "max_samples": "run.limit_train_rows",
}


def _suggestion(dotted: str, prefix: str, types_by_name: dict[str, Any]) -> str:
    """'; did you mean ...?' for an unknown key: a renamed key, an official/TRL name, else the closest key."""
    new = RENAMED_KEYS.get(dotted) or FOREIGN_NAMES.get(dotted.rsplit(".", 1)[-1])
    if new:
        return f"; did you mean '{new}'?"
    valid = [f"{prefix}{n}" for n in types_by_name]
    # A bare name (`temperature`) means a training key before the eval section's namesake (eval.temperature).
    training_keys = [k for k in all_keys() if not k.startswith("eval.")]
    hint = (
        difflib.get_close_matches(dotted, valid, n=1)
        or difflib.get_close_matches(dotted, training_keys, n=1)
        or difflib.get_close_matches(dotted, all_keys(), n=1)
    )
    return f"; did you mean '{hint[0]}'?" if hint else ""


def all_keys(obj: Any = None, prefix: str = "") -> list[str]:
    """Every dotted key a config accepts, e.g. `optim.learning_rate`."""
    obj = obj if obj is not None else TrainConfig()
    keys = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            keys += all_keys(value, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def parse_override(text: str) -> dict:
    """`optim.learning_rate=1e-6` -> {"optim": {"learning_rate": 1e-6}}; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected key=value, e.g. optim.learning_rate=1e-6")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{text}': empty key")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    nested: dict = value
    for part in reversed(key.split(".")):
        nested = {part: nested}
    return nested


def validate(config: TrainConfig) -> None:
    """Cross-field checks that a single type check cannot make."""
    check_shape(config.batch.shape())
    rollout = config.rollout
    if rollout.max_completion_length < 1:
        raise ConfigError(f"rollout.max_completion_length must be >= 1, got {rollout.max_completion_length}")
    if rollout.prompt_max_len is not None and rollout.prompt_max_len < 1:
        raise ConfigError(f"rollout.prompt_max_len must be >= 1 or null, got {rollout.prompt_max_len}")
    if not 0 < config.optim.learning_rate < 1:
        raise ConfigError(f"optim.learning_rate must be in (0, 1), got {config.optim.learning_rate}")
    if not 0 <= config.optim.warmup_ratio < 1:
        raise ConfigError(f"optim.warmup_ratio must be in [0, 1), got {config.optim.warmup_ratio}")
    if rollout.temperature <= 0:
        raise ConfigError(f"rollout.temperature must be > 0, got {rollout.temperature}")
    if config.run.save_every_rollouts < 1:
        raise ConfigError(f"run.save_every_rollouts must be >= 1, got {config.run.save_every_rollouts}")
    if rollout.vllm_sync_check_every < 1:
        raise ConfigError(f"rollout.vllm_sync_check_every must be >= 1, got {rollout.vllm_sync_check_every}")
    if rollout.vllm_logp_gap_tolerance <= 0:
        raise ConfigError(
            f"rollout.vllm_logp_gap_tolerance must be > 0, got {rollout.vllm_logp_gap_tolerance}"
        )
    if rollout.max_sampling_rounds < 1:
        raise ConfigError(f"rollout.max_sampling_rounds must be >= 1, got {rollout.max_sampling_rounds}")
    if rollout.completions_per_generate < 0:
        raise ConfigError(
            f"rollout.completions_per_generate must be >= 0 (0: from GPU memory), got {rollout.completions_per_generate}"
        )
    check_eval_config(config.eval)
    model = config.model
    if model.min_pixels is not None and model.max_pixels is not None and model.min_pixels > model.max_pixels:
        raise ConfigError(f"model.min_pixels ({model.min_pixels}) > model.max_pixels ({model.max_pixels})")


def check_eval_config(section: EvalConfig) -> None:
    """The eval section's numbers (its sets and best metric are checked against the dirs by validation.py)."""
    if section.every_rollouts < 1:
        raise ConfigError(f"eval.every_rollouts must be >= 1, got {section.every_rollouts}")
    for key in ("samples", "batch_size"):
        if getattr(section, key) < 1:
            raise ConfigError(f"eval.{key} must be >= 1, got {getattr(section, key)}")
    if section.limit is not None and section.limit < 1:
        raise ConfigError(f"eval.limit must be >= 1 or null, got {section.limit}")
    if section.max_new_tokens is not None and section.max_new_tokens < 1:
        raise ConfigError(f"eval.max_new_tokens must be >= 1 or null, got {section.max_new_tokens}")
    if section.samples > 1 and section.temperature <= 0:
        raise ConfigError(
            "eval.samples > 1 needs eval.temperature > 0 (greedy samples would all be the same)"
        )


def load_train_config(
    recipe: str | None, config_file: Path | None = None, overrides: list[str] | None = None
) -> TrainConfig:
    """Resolve a training config: defaults, then recipe, then a user YAML file, then key=value overrides."""
    config = TrainConfig()
    if recipe:
        _apply(config, recipe_dict(recipe), f"recipe {recipe}")
    if config_file is not None:
        if not Path(config_file).is_file():
            raise ConfigError(f"{config_file}: config file not found")
        _apply(config, read_yaml(Path(config_file), str(config_file)), str(config_file))
    for text in overrides or []:
        _apply(config, parse_override(text), f"override '{text}'")
    validate(config)
    return config


def config_to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)
