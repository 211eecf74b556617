"""The training engine a run uses: DDP, DeepSpeed ZeRO-2/3 or FSDP2, chosen by `--accelerate-config`.

Everything engine-specific lives here, in three places a run passes through:
- the parent, before anything loads (`check_engine_available`): a ZeRO config without DeepSpeed installed, or a
  config file that names no engine lmmr1 knows, is one `error:` line naming the fix;
- each launched process, before TrainingArguments exist (`prepare_process`): the accelerate config must agree with
  the recipe's precision (a shipped config says `mixed_precision: bf16`; a float32 recipe under it fails in
  DeepSpeed's config check, `ds bf16.enabled=True vs hf bf16=False`), and on a CPU, FSDP needs settings that
  accelerate otherwise refuses or drops (see `_keep_fsdp_on_cpu`);
- the finished run (`engine_in_use`): what actually ran, read from the accelerator, for summary.json (a config
  name is a request, not a fact: accelerate has silently run plain processes in place of FSDP here).
Precision: the policy's weights stay float32 under every engine (train.py loads them so) and bf16 is compute only:
autocast under DDP and one process, FSDP2's MixedPrecisionPolicy, DeepSpeed's own fp32 master copy.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from lmmr1_cli.errors import ConfigError, EnvironmentMissingError

DEEPSPEED_INSTALL = "pip install 'lmmr1[deepspeed]' (`make setup` installs it)"


@dataclass(frozen=True)
class EngineSpec:
    """What an accelerate config file asks for: `kind` is ddp, deepspeed, fsdp or single."""

    kind: str
    zero_stage: int | None = None
    fsdp_version: int | None = None

    @property
    def name(self) -> str:
        if self.kind == "deepspeed":
            return f"deepspeed-zero{self.zero_stage}"
        if self.kind == "fsdp":
            return f"fsdp{self.fsdp_version or 1}"
        return self.kind


def read_engine_spec(config_path: Path) -> EngineSpec:
    """The engine an accelerate config file asks for (shipped or the user's)."""
    import yaml

    try:
        data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"--accelerate-config {config_path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--accelerate-config {config_path}: expected a YAML mapping")
    kind = str(data.get("distributed_type", "NO")).upper()
    if kind == "DEEPSPEED":
        ds = data.get("deepspeed_config") or {}
        if "deepspeed_config_file" in ds:
            return EngineSpec("deepspeed", zero_stage=_stage_from_ds_json(Path(ds["deepspeed_config_file"])))
        return EngineSpec("deepspeed", zero_stage=int(ds.get("zero_stage", 2)))
    if kind == "FSDP":
        fsdp = data.get("fsdp_config") or {}
        return EngineSpec("fsdp", fsdp_version=int(fsdp.get("fsdp_version", 1)))
    if kind in ("MULTI_GPU", "MULTI_CPU"):
        return EngineSpec("ddp")
    if kind == "NO":
        return EngineSpec("single")
    raise ConfigError(
        f"--accelerate-config {config_path}: distributed_type {kind} is not an engine lmmr1 runs "
        "(DEEPSPEED, FSDP, MULTI_GPU or NO)"
    )


def _stage_from_ds_json(path: Path) -> int | None:
    import json

    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["zero_optimization"]["stage"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_engine_available(config_path: Path | None) -> EngineSpec | None:
    """Fail here, in the parent and before any model loads, when the engine cannot start in this install."""
    if config_path is None:
        return None
    spec = read_engine_spec(config_path)
    if spec.kind != "deepspeed":
        return spec
    label = f"--accelerate-config {_config_label(config_path)} runs DeepSpeed ZeRO-{spec.zero_stage}"
    if not deepspeed_installed():
        raise EnvironmentMissingError(
            f"{label}, which is not installed here: {DEEPSPEED_INSTALL}; or pick --accelerate-config fsdp or ddp"
        )
    try:  # imported for real (a few seconds, DeepSpeed configs only): a broken install fails every rank later
        importlib.import_module("deepspeed")
    except Exception as exc:  # a broken DeepSpeed fails in many ways
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise EnvironmentMissingError(
            f"{label}, which is installed but does not import here ({type(exc).__name__}: {first}): "
            "pip install --force-reinstall 'lmmr1[deepspeed]'; or pick --accelerate-config fsdp or ddp"
        ) from None
    return spec


def default_cluster_engine() -> str:
    """The engine an emitted SLURM script uses when none is named: ZeRO-2 (the paper-scale recipes fit in it) where
    DeepSpeed is installed, else FSDP2, so a script never names an engine this install lacks."""
    return "zero2" if deepspeed_installed() else "fsdp"


def deepspeed_installed() -> bool:
    """Whether DeepSpeed can be found, without importing it (torch and all: seconds)."""
    try:
        return importlib.util.find_spec("deepspeed") is not None
    except (ImportError, ValueError):
        return False


def _config_label(config_path: Path) -> str:
    path = Path(config_path)
    return path.stem if path.parent.name == "launch_configs" else str(path)


def run_precision(model_dtype: str) -> str:
    """accelerate's name for a recipe's compute precision (`model.dtype`)."""
    return {"bfloat16": "bf16", "float16": "fp16"}.get(model_dtype, "no")


def prepare_process(model_dtype: str, cpu: bool) -> None:
    """Make the launched engine agree with the recipe; call before TrainingArguments (GRPOConfig) are built.

    accelerate launch exports its config as environment variables, which TrainingArguments and accelerate's plugins
    read: setting them here makes one config file serve float32 and bf16 recipes alike, and lets the shipped GPU
    configs run on CPU ranks.
    """
    os.environ["ACCELERATE_MIXED_PRECISION"] = run_precision(model_dtype)
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
        # Under ZeRO-3 a save without this flag writes per-rank shards instead of one model file, which final/,
        # export and --init cannot read (and rank 0 would stage its part apart from the others').
        os.environ["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] = "true"
        # DeepSpeed JIT-builds its ops (on CPU: the shared-memory collectives) into torch's extension folder,
        # which is named by Python and CUDA version only, and reuses a build whose sources are unchanged: two
        # venvs with different torch builds (.venv and .venv-vllm here) would load each other's binary.
        os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(torch_extensions_dir()))
    if cpu and os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
        # Loading on rank 0 and broadcasting is refused on CPU ("FSDP parameter initialization with
        # sync_module_states=True is not supported on cpu"); every rank loads the same file instead.
        os.environ["FSDP_SYNC_MODULE_STATES"] = "false"
        os.environ["FSDP_CPU_RAM_EFFICIENT_LOADING"] = "false"
        _keep_fsdp_on_cpu()


def torch_extensions_dir() -> Path:
    """Where this torch build's JIT-compiled ops go: one folder per Python and torch version."""
    import sys

    import torch

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return cache / "torch_extensions" / f"lmmr1-{python}-torch{torch.__version__}"


def _keep_fsdp_on_cpu() -> None:
    """accelerate builds FSDP only for accelerator devices: with `use_cpu` its state becomes MULTI_CPU and the FSDP
    plugin is silently dropped (a plain multi-process run reported as FSDP). FSDP2 itself runs over gloo, so once
    the state is built the plugin is put back and the state marked FSDP, before the Trainer reads it."""
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    build = AcceleratorState.__init__
    if getattr(build, "_lmmr1_keeps_fsdp", False):
        return

    def build_keeping_fsdp(self, *args, fsdp_plugin=None, **kwargs):
        build(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            if self._mixed_precision != "no":
                fsdp_plugin.set_mixed_precision(self._mixed_precision)
            self.fsdp_plugin = fsdp_plugin
            self.distributed_type = DistributedType.FSDP
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    build_keeping_fsdp._lmmr1_keeps_fsdp = True
    AcceleratorState.__init__ = build_keeping_fsdp


def engine_in_use(accelerator, model=None) -> dict:
    """What the run really ran under, read from the accelerator and, given the trained `model`, from its parameters
    (for summary.json's `engine`): `sharded_parameters` counts the parameters this rank holds only a shard of
    (FSDP2 DTensors, ZeRO-3 partitions), so "fsdp" in a config can never stand in for FSDP that did not happen."""
    from accelerate.utils import DistributedType

    state = accelerator.state
    kind = state.distributed_type
    info = {
        "processes": accelerator.num_processes,
        "device": accelerator.device.type,
        "mixed_precision": str(accelerator.mixed_precision),
    }
    if kind == DistributedType.DEEPSPEED:
        plugin = state.deepspeed_plugin
        info.update(engine=f"deepspeed-zero{plugin.zero_stage}", zero_stage=plugin.zero_stage)
        info["mixed_precision"] = _deepspeed_precision(plugin.deepspeed_config)
    elif kind == DistributedType.FSDP:
        version = getattr(state.fsdp_plugin, "fsdp_version", 1)
        info.update(engine=f"fsdp{version}", fsdp_version=version)
    elif accelerator.num_processes > 1:
        info["engine"] = "ddp"
    else:
        info["engine"] = "single"
    info["distributed_type"] = str(kind).split(".")[-1]
    if model is not None:
        info["sharded_parameters"] = sum(_is_shard(param) for param in model.parameters())
    return info


def _is_shard(param) -> bool:
    if type(param).__name__ == "DTensor" or type(getattr(param, "data", None)).__name__ == "DTensor":
        return True  # FSDP2
    shard = getattr(
        param, "ds_tensor", None
    )  # ZeRO-3: this rank's partition, whether or not it is gathered now
    return shard is not None and shard.numel() < param.ds_numel


def _deepspeed_precision(ds_config: dict) -> str:
    for name in ("bf16", "fp16"):
        if (ds_config.get(name) or {}).get("enabled") in (True, "auto"):
            return name
    return "no"


def is_sharded(accelerator) -> bool:
    """Whether parameters are partitioned across ranks (ZeRO-3, FSDP): a forward is then a collective."""
    from accelerate.utils import DistributedType

    state = accelerator.state
    if state.distributed_type == DistributedType.FSDP:
        return True
    return state.distributed_type == DistributedType.DEEPSPEED and state.deepspeed_plugin.zero_stage == 3


def keep_generation_in_step(model, accelerator) -> None:
    """Under FSDP every forward gathers parameters from all ranks, so a rank whose completions end early must keep
    stepping until all have (transformers' `synced_gpus`). transformers turns that on by itself under ZeRO-3 and for
    FSDP modules it wrapped itself, but not for accelerate's FSDP2, whose modules carry no mark: it is set here
    (measured: without it, generation with uneven lengths crossed collectives between ranks)."""
    from accelerate.utils import DistributedType

    if accelerator.state.distributed_type != DistributedType.FSDP or accelerator.num_processes == 1:
        return
    for module in (model, model.get_base_model() if hasattr(model, "get_base_model") else model):
        module._is_fsdp_managed_module = True
