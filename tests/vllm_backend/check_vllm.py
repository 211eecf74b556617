"""`make test-vllm`: `lmmr1 eval --backend vllm` on a tiny text model (vLLM's CPU build, in .venv-vllm) must give
the same greedy completions as `--backend hf` on the same model and prompts.

    .venv/bin/python tests/vllm_backend/check_vllm.py --vllm-venv .venv-vllm [--rows 16]

The text model and the dataset are built with .venv (transformers 5.x, the embedded tiny model); both evals run
with .venv-vllm's lmmr1, so the only difference between them is the backend.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from text_model import build_text_model  # noqa: E402

# vLLM CPU settings: 1 GiB KV cache, and the engine in this process (~3 s start instead of ~20 s).
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_TARGET_DEVICE": "cpu"}


def _eval(
    lmmr1: str, model: Path, data: Path, out: Path, backend: str, max_new_tokens: int
) -> tuple[dict, float]:
    start = time.perf_counter()
    result = subprocess.run(
        [lmmr1, "eval", "--model", model, "--benchmark", data, "-o", out, "--backend", backend,
         "--dtype", "float32", "--max-new-tokens", str(max_new_tokens), "--json"],
        capture_output=True, text=True, env={**os.environ, **VLLM_ENV}, timeout=900,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"{backend} eval failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.splitlines()[-1]), time.perf_counter() - start


def _completions(summary: dict) -> dict[str, dict]:
    (result,) = summary["results"].values()
    (bench,) = result.values()
    return {r["id"]: r for r in map(json.loads, Path(bench["samples_file"]).read_text().splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vllm-venv", default=".venv-vllm")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    lmmr1_vllm = str(Path(args.vllm_venv) / "bin" / "lmmr1")
    lmmr1_main = str(Path(sys.executable).with_name("lmmr1"))
    with tempfile.TemporaryDirectory(prefix="lmmr1-vllm-check-") as tmp:
        tmp = Path(tmp)
        model = build_text_model(tmp / "text-model")
        data = tmp / "arith"
        prep = subprocess.run(
            [lmmr1_main, "prepare-data", "synthetic-arith", "--split", "test", "--limit", str(args.rows), "-o", data],
            capture_output=True, text=True,
        )  # fmt: skip
        if prep.returncode != 0:
            sys.exit(prep.stderr)
        hf, hf_s = _eval(lmmr1_vllm, model, data, tmp / "hf", "hf", args.max_new_tokens)
        vl, vl_s = _eval(lmmr1_vllm, model, data, tmp / "vllm", "vllm", args.max_new_tokens)
        a, b = _completions(hf), _completions(vl)
        differ = [
            i for i in a if (a[i]["completion"], a[i]["tokens"]) != (b[i]["completion"], b[i]["tokens"])
        ]
        report = {
            "rows": len(a),
            "identical": len(a) - len(differ),
            "hf_seconds": round(hf_s, 1),
            "vllm_seconds": round(vl_s, 1),
            "hf_accuracy": next(iter(hf["results"].values()))["arith"]["accuracy"],
            "vllm_accuracy": next(iter(vl["results"].values()))["arith"]["accuracy"],
        }
        print(json.dumps(report))
        for i in differ[:3]:
            print(f"{i}:\n  hf:   {a[i]['completion']!r}\n  vllm: {b[i]['completion']!r}", file=sys.stderr)
        if differ or set(a) != set(b):
            sys.exit(f"vLLM and hf greedy outputs differ on {len(differ)} of {len(a)} prompts")
        print(f"{len(a)} passed, 0 failed")


if __name__ == "__main__":
    main()
