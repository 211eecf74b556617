"""Data recipes: one YAML per dataset (source id, split, field mapping, answer type, filters), shipped in the
package under `lmmr1_cli/data_recipes/` and found with importlib.resources, so they work from an install."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lmmr1_cli.defaults import ANSWER_TYPES
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.yaml_numbers import load_yaml

FORMATS = ("fields", "messages", "conversations", "synthetic", "auto")


@dataclass
class DataRecipe:
    """How to turn one public dataset into canonical rows. Every field maps one-to-one onto the YAML."""

    name: str
    description: str = ""
    format: str = "fields"  # which adapter: fields | messages | conversations | synthetic | auto
    source: str | None = None  # HF dataset id or local file/dir; `--source` overrides
    config: str | None = None  # HF dataset config name, if the dataset has several
    data_files: str | None = None  # a file inside the HF dataset repo (VerMulti ships JSONL + image tarballs)
    split: str = "train"
    answer_type: str = "math"
    fields: dict[str, Any] = field(default_factory=dict)  # canonical field -> source column
    answer_type_map: dict[str, str] = field(
        default_factory=dict
    )  # value of fields.answer_type -> answer_type
    image_dir: str | None = None  # root that relative image paths resolve under (default: next to the source)
    filters: dict[str, Any] = field(default_factory=dict)  # where / text_only / require_images / max_images
    options: dict[str, Any] = field(default_factory=dict)  # adapter knobs, e.g. answer_is_choice_text
    generator: str | None = None  # synthetic kind: arithmetic | geometry | sokoban
    seed: int = 0
    default_limit: int | None = None
    # Downscale images when stored (Qwen smart_resize bounds); null keeps the source resolution. --max-pixels and
    # --min-pixels override. The manifest records the bounds, and training refuses data below its own.
    min_pixels: int | None = None
    max_pixels: int | None = None
    path: str | None = None  # the YAML it was read from

    def __post_init__(self) -> None:
        where = self.path or self.name
        if self.format not in FORMATS:
            raise ConfigError(f"{where}: format {self.format!r} unknown; expected one of {FORMATS}")
        if self.answer_type not in ANSWER_TYPES:
            raise ConfigError(
                f"{where}: answer_type {self.answer_type!r} unknown; expected one of {ANSWER_TYPES}"
            )
        bad = [v for v in self.answer_type_map.values() if v not in ANSWER_TYPES]
        if bad:
            raise ConfigError(f"{where}: answer_type_map values {bad} unknown; expected {ANSWER_TYPES}")
        if self.format == "synthetic" and not self.generator:
            raise ConfigError(f"{where}: a synthetic recipe needs `generator`")


def _recipe_dir() -> Any:
    return resources.files("lmmr1_cli") / "data_recipes"


def list_recipes() -> list[DataRecipe]:
    """All shipped data recipes, sorted by name."""
    recipes = []
    for entry in sorted(_recipe_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            recipes.append(_parse(entry.read_text(encoding="utf-8"), f"data_recipes/{entry.name}"))
    return recipes


def load_recipe(name_or_path: str) -> DataRecipe:
    """A shipped recipe by name (`geometry3k`) or a recipe YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return _parse(path.read_text(encoding="utf-8"), str(path))
    entry = _recipe_dir() / f"{name_or_path}.yaml"
    if not entry.is_file():
        known = ", ".join(r.name for r in list_recipes())
        raise ConfigError(f"no data recipe {name_or_path!r}; known: {known}")
    return _parse(entry.read_text(encoding="utf-8"), f"data_recipes/{name_or_path}.yaml")


def is_recipe(name_or_path: str) -> bool:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return True
    return "/" not in name_or_path and (_recipe_dir() / f"{name_or_path}.yaml").is_file()


def _parse(text: str, where: str) -> DataRecipe:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML ({exc})") from None
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"{where}: a data recipe is a mapping with at least `name`")
    known = {f.name for f in dataclasses.fields(DataRecipe)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known - {'path'})}")
    _check_types(data, where)
    return DataRecipe(**data, path=where)


def _check_types(data: dict[str, Any], where: str) -> None:
    """Each key holds the kind of value its field takes; the message never prints the value (an alias bomb's
    repr would be 10**9 items)."""
    hints = typing.get_type_hints(DataRecipe)
    for key, value in data.items():
        hint = hints[key]
        options = (
            typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        )
        allowed = tuple(typing.get_origin(t) or t for t in options)
        if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise ConfigError(f"{where}: `{key}` must be {names}, got {type(value).__name__}")


def resolve_recipe(arg: str) -> DataRecipe:
    """A shipped recipe, a recipe YAML, or else a data path / HF id read with an auto-detected format.

    A bare word that is neither a recipe nor an existing path is refused at once, with the closest recipe
    name: it cannot be an HF dataset id (`owner/name`), and a hub lookup of a typo takes half a minute.
    """
    if is_recipe(arg):
        return load_recipe(arg)
    path = Path(arg)
    if not path.exists() and "/" not in arg and "\\" not in arg:
        names = [r.name for r in list_recipes()]
        hint = difflib.get_close_matches(arg, names, n=1, cutoff=0.6)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        if path.suffix:
            raise ConfigError(f"{arg}: no such file or directory")
        raise ConfigError(
            f"{arg!r} is not a data recipe, a local path or an HF dataset id (owner/name); {suggestion}"
            "see `lmmr1 prepare-data --list`"
        )
    shipped = _shipped_recipe_for(arg)
    if shipped is not None:
        # A copy of a dataset lmmr1 ships a recipe for reads as that recipe (Geometry3K is `geometry` either way).
        return dataclasses.replace(
            shipped, source=arg, description=f"{arg} read with the {shipped.name} recipe"
        )
    name = path.stem if path.exists() else arg.replace("/", "-")
    return DataRecipe(name=name, description=f"auto-detected format of {arg}", format="auto", source=arg)


def _shipped_recipe_for(arg: str) -> DataRecipe | None:
    """The shipped column-mapped recipe whose HF id is `arg`, or whose dataset name (`geometry3k`) names the dir
    given (`./geometry3k`) or the local file's dir (`geometry3k/train.parquet`)."""
    path = Path(arg)
    names = {path.name.lower()} if path.is_dir() else {path.parent.name.lower()} if path.is_file() else set()
    for recipe in list_recipes():
        if recipe.format != "fields" or recipe.data_files or not recipe.source:
            continue
        if arg == recipe.source or recipe.source.rsplit("/", 1)[-1].lower() in names:
            return recipe
    return None
