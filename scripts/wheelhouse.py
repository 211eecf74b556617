"""`make wheelhouse`: the wheels an offline machine needs to run lmmr1, at the lock's versions, plus lmmr1 itself.

The default target is the GPU machine this project is lent (shared/DESIGN.md): Linux x86_64, CPython 3.12, with
torch 2.11 and a scientific stack already installed and no package registry. Its torch stays (a CUDA build is
GBs, with its CUDA libraries); so do the large packages it has (numpy, pandas, pyarrow, matplotlib, pillow, sympy).
Everything else lmmr1 needs travels at the lock's version (lmmr1_cli/constraints/venv.txt), except torchvision,
which must pair with the target's torch. vLLM does not fit (its wheel alone is hundreds of MB) and
DeepSpeed ships no wheels: neither is needed for one GPU.

    python scripts/wheelhouse.py -o wheelhouse            then, on the target:
    bash scripts/install_offline.sh wheelhouse .venv-offline

Writes DIR/constraints.txt (the exact version of every shipped wheel, which install_offline.sh installs under)
and DIR/manifest.json (target, shipped and kept packages, total size). Fails when the bundle exceeds --max-mib.
The dependency graph is read from the running environment's installed metadata, so run it with .venv's Python
(the locked environment).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.metadata as metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lmmr1_cli.lockfile import LOCKS, canonical_name, read_pins  # noqa: E402

# The GPU machine's large packages (shared/DESIGN.md, "Measured facts") and torch's CUDA libraries: these stay.
# Small packages it may have at other versions travel anyway, so the resolve never depends on what it has.
GPU_MACHINE_KEEPS = (
    "torch", "triton", "nvidia-*", "cuda-*", "setuptools", "numpy", "pandas", "pyarrow", "matplotlib", "contourpy",
    "fonttools", "kiwisolver", "pillow", "sympy",
)  # fmt: skip
# torchvision's release for each torch minor (torchvision's README table).
TORCHVISION_FOR_TORCH = {"2.11": "0.26.0", "2.12": "0.27.0", "2.13": "0.28.0", "2.14": "0.29.1"}


def closure(roots: list[str], environment: dict[str, str]) -> set[str]:
    """Canonical names of `roots` and everything they require (no extras beyond those named), from the
    installed metadata, with markers evaluated for the target."""
    seen: set[str] = set()
    stack = [Requirement(root) for root in roots]
    while stack:
        requirement = stack.pop()
        name = canonical_name(requirement.name)
        key = name + "".join(f"[{extra}]" for extra in sorted(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a marker-only dependency of another platform; pip would not install it either
        for text in requires:
            dependency = Requirement(text)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra}) for extra in extras
            ):
                stack.append(dependency)
    return {key.split("[")[0] for key in seen}


def target_environment(python: str) -> dict[str, str]:
    """PEP 508 marker values of a Linux x86_64 CPython of that version."""
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def plan(python: str, torch_version: str, keeps: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """({name: version} to ship, [names kept on the target])."""
    environment = target_environment(python)
    pins = read_pins(LOCKS["venv"])
    needed = closure(["lmmr1"], environment) - {"lmmr1"}
    kept = {name for name in needed if any(fnmatch.fnmatch(name, pattern) for pattern in keeps)}
    ship = {}
    for name in sorted(needed - kept):
        if name == "torchvision":
            ship[name] = TORCHVISION_FOR_TORCH[".".join(torch_version.split(".")[:2])]
        elif name in pins:
            ship[name] = pins[name]
        else:
            raise SystemExit(f"{name} is needed but not in the lock: run `make lock`")
    return ship, sorted(kept)


def platform_tags(platform: str) -> list[str]:
    """pip's --platform takes tags literally, so a manylinux_2_28 target must also name every older glibc tag (and
    their legacy aliases) that its wheels may carry."""
    prefix, arch = platform.removesuffix("_x86_64"), "x86_64"
    if not prefix.startswith("manylinux_2_") or prefix == platform:
        return [platform]
    newest = int(prefix.rsplit("_", 1)[1])
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(newest, 4, -1)]
    return tags + [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def download(ship: dict[str, str], out: Path, python: str, platform: str) -> None:
    pinned = [f"{name}=={version}" for name, version in ship.items()]
    platforms = [argument for tag in platform_tags(platform) for argument in ("--platform", tag)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", *platforms,
         "--python-version", python, "--implementation", "cp", "-d", str(out), *pinned],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)], check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "wheelhouse")
    parser.add_argument("--python", default="3.12", help="the target's CPython version")
    parser.add_argument("--platform", default="manylinux_2_28_x86_64", help="the target's wheel platform tag")
    parser.add_argument("--torch", default="2.11.0", help="the target's torch, which stays")
    parser.add_argument("--keep", nargs="*", default=list(GPU_MACHINE_KEEPS), help="packages the target has")
    parser.add_argument("--max-mib", type=float, default=64.0, help="fail above this size (what can travel)")
    args = parser.parse_args()

    ship, kept = plan(args.python, args.torch, tuple(args.keep))
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    download(ship, args.out, args.python, args.platform)
    (args.out / "constraints.txt").write_text("".join(f"{n}=={v}\n" for n, v in ship.items()))
    wheels = sorted(args.out.glob("*.whl"))
    size_mib = sum(wheel.stat().st_size for wheel in wheels) / 2**20
    manifest = {
        "target": {"python": args.python, "platform": args.platform, "torch": args.torch, "keeps": args.keep},
        "shipped": ship,
        "kept_on_target": kept,
        "wheels": [wheel.name for wheel in wheels],
        "size_mib": round(size_mib, 1),
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{args.out}: {len(wheels)} wheels, {size_mib:.1f} MiB; kept on the target: {', '.join(kept)}")
    if size_mib > args.max_mib:
        raise SystemExit(f"{args.out} is {size_mib:.1f} MiB, over --max-mib {args.max_mib:g}")


if __name__ == "__main__":
    main()
