"""The offline bundle: what `make wheelhouse` ships for the GPU machine, and scripts/install_offline.sh installing
lmmr1 with --no-index into an environment that has its dependencies, then `lmmr1 doctor` passing there."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from lmmr1_cli.lockfile import LOCKS, read_pins

ROOT = Path(__file__).resolve().parent.parent


def _wheelhouse_script():
    spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "scripts" / "wheelhouse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_machine_bundle_ships_what_it_lacks_at_the_locks_versions_and_keeps_its_torch():
    wheelhouse = _wheelhouse_script()
    ship, kept = wheelhouse.plan("3.12", "2.11.0", wheelhouse.GPU_MACHINE_KEEPS)
    pins = read_pins(LOCKS["venv"])
    for missing_there in (
        "trl",
        "datasets",
        "math-verify",
        "latex2sympy2-extended",
        "antlr4-python3-runtime",
    ):
        assert ship[missing_there] == pins[missing_there]
    assert ship["torchvision"] == "0.26.0"  # paired with the machine's torch 2.11, not the lock's 0.29.1
    assert {name: v for name, v in ship.items() if name != "torchvision"} == {
        n: pins[n] for n in ship if n != "torchvision"
    }
    assert {"torch", "numpy", "pandas", "pyarrow", "matplotlib", "pillow", "sympy", "triton"} <= set(kept)
    assert not any(name.startswith("nvidia-") for name in ship)
    assert "deepspeed" not in ship and "vllm" not in ship  # not needed on one GPU; DeepSpeed has no wheels


def test_platform_tags_name_every_older_glibc_because_pip_takes_them_literally():
    tags = _wheelhouse_script().platform_tags("manylinux_2_28_x86_64")
    assert (
        tags[0] == "manylinux_2_28_x86_64"
        and "manylinux_2_17_x86_64" in tags
        and "manylinux2014_x86_64" in tags
    )


def test_install_offline_installs_the_wheel_without_an_index_and_doctor_passes(tmp_path):
    # A stand-in for an offline machine that has lmmr1's dependencies: a venv that sees this venv's packages (all
    # but lmmr1 itself) through a .pth file, and a wheelhouse holding only lmmr1's wheel.
    wheelhouse = tmp_path / "wheelhouse"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheelhouse),
         str(ROOT)], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheelhouse / "constraints.txt").write_text("")
    (wheelhouse / "manifest.json").write_text(json.dumps({"shipped": {}, "kept_on_target": ["torch"]}))
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.startswith("torch-") and entry.name.endswith(".dist-info"):
            # the machine keeps another torch than the lock's (the GPU machine: 2.11; here one that still suits the
            # lock's torchvision)
            (deps / "torch-2.14.0.dist-info").mkdir()
            (deps / "torch-2.14.0.dist-info" / "METADATA").write_text(
                "Metadata-Version: 2.1\nName: torch\nVersion: 2.14.0\n"
            )
        elif not entry.name.lower().startswith(("lmmr1", "__editable__")) and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    env_dir = tmp_path / "offline-env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    for own in ("setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence.pth"):
        for path in site.glob(f"{own}*"):  # the venv's bundled setuptools would hide the machine's newer one
            subprocess.run(["rm", "-rf", str(path)], check=True)
    (site / "machine-packages.pth").write_text(f"{deps}\n")

    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install_offline.sh"), str(wheelhouse), str(env_dir)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"lmmr1   0.1.0  ({site / 'lmmr1_cli'})" in result.stdout
    # The lock travels inside the wheel, so the doctor compares against it there too.
    assert f"lock    venv  ({site / 'lmmr1_cli' / 'constraints' / 'venv.txt'})" in result.stdout
    # The machine's torch differs from the lock on purpose: the doctor reads the bundle's manifest and says so.
    assert "as the offline bundle planned" in result.stdout
    assert "differ from the lock" not in result.stdout
