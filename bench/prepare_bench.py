"""prepare-data benchmark: rows/s and peak RSS on a multimodal fixture (512x512 JPEGs, one per row).

Builds the fixture once (JSONL with `<image>` rows + image files, Geometry3K/EasyR1-style paths), then runs the
real `lmmr1 prepare-data` console script on the first N rows at two sizes and samples the RSS of its whole process
tree (the CLI, its --num-proc workers and the verifier's workers) every 50 ms, as PSS. Linear time means rows/s is flat across sizes; the target is
peak RSS < 2 GB at 10,000 rows.

    .venv/bin/python bench/prepare_bench.py            # 2,500 and 10,000 rows (several minutes on 2 cores)
    .venv/bin/python bench/prepare_bench.py --quick    # 100 and 200 rows, for the smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def build_fixture(root: Path, rows: int, size: int = 512) -> Path:
    """`rows` distinct JPEG images (smooth content, so files stay small) and one JSONL row each."""
    from PIL import Image, ImageDraw

    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    lines = []
    for i in range(rows):
        path = root / "images" / f"{i:06d}.jpg"
        if not path.exists():
            image = Image.new(
                "RGB", (size, size), (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            )
            draw = ImageDraw.Draw(image)
            x, y = rng.randrange(size - 100), rng.randrange(size - 100)
            draw.rectangle([x, y, x + 90, y + 60], fill=(rng.randrange(256), 0, 0))
            draw.text((10, 10), f"figure {i}", fill=(0, 0, 0))
            image.save(path, format="JPEG", quality=85)
        lines.append(
            json.dumps(
                {
                    "problem": f"<image>In figure {i}, find x.",
                    "answer": str(i % 97 + 1),
                    "images": [f"images/{i:06d}.jpg"],
                }
            )
        )
    source = root / f"rows-{rows}.jsonl"
    source.write_text("\n".join(lines) + "\n")
    return source


def _tree_pss(pid: int) -> int:
    """Proportional set size of `pid` and all its descendants (read from /proc).

    PSS, not RSS: forked workers share the parent's pages (torch, transformers), and summing RSS would count
    those pages once per process.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(p, []))
    return total


def run_once(source: Path, out: Path, num_proc: int) -> dict:
    lmmr1 = str(Path(sys.executable).with_name("lmmr1"))
    cmd = [
        lmmr1,
        "prepare-data",
        str(source),
        "-o",
        str(out),
        "--force",
        "--num-proc",
        str(num_proc),
        "--json",
    ]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_pss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.join()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"prepare-data failed: {stderr.strip()}")
    summary = json.loads(stdout)
    kept = summary["counts"]["kept"]
    return {
        "rows": kept,
        "pipeline_seconds": summary["seconds"],
        "wall_seconds": round(wall, 2),
        "rows_per_s": round(kept / summary["seconds"], 1),
        "peak_pss_mb": round(peak[0] / 2**20, 1),
        "dropped": summary["counts"]["dropped"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 and 200 rows (smoke test)")
    parser.add_argument("--sizes", type=int, nargs=2, default=None, help="the two fixture sizes")
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the fixture here (default: a temp dir)"
    )
    args = parser.parse_args()
    sizes = args.sizes or ([100, 200] if args.quick else [2500, 10000])
    with tempfile.TemporaryDirectory(prefix="prepare-bench-") as tmp:
        work = args.workdir or Path(tmp)
        results = []
        for n in sizes:
            source = build_fixture(work, n)
            result = run_once(source, work / f"out-{n}", args.num_proc)
            results.append({"size": n, **result})
            print(json.dumps(results[-1]), flush=True)
    small, large = results
    report = {
        "num_proc": args.num_proc,
        "image_size": "512x512 JPEG, one per row",
        "results": results,
        # 1.0 means perfectly linear: the large run's time per row equals the small run's.
        "time_per_row_ratio": round(
            (large["pipeline_seconds"] / large["rows"]) / (small["pipeline_seconds"] / small["rows"]), 2
        ),
        # Steady state: the fixed start-up (imports, processor, verifier pool) cancels out between the sizes.
        "marginal_rows_per_s": round(
            (large["rows"] - small["rows"])
            / max(large["pipeline_seconds"] - small["pipeline_seconds"], 1e-9),
            1,
        ),
        "peak_pss_under_2gb": max(r["peak_pss_mb"] for r in results) < 2048,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
