"""The bad-input corpus: one row per fault, each run through the real `lmmr1` CLI by test_bad_inputs.py.

Every case builds its inputs in a fresh workspace and returns the argv (without `lmmr1`). The test asserts a
non-zero exit, exactly one `error: ...` line on stderr containing every string in `expect` (the file, row, field
or option at fault), no traceback, and the output location byte-for-byte unchanged. docs/reliability.md holds
this table (render it with `python -m tests.faults.render_doc` from the repo root); a test keeps them in step.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Workspace:
    """Paths one case works with. `data`, `geo` and `tiny` are shared: copy them before changing anything."""

    root: Path
    data: Path  # a prepared text dataset (synthetic-arith, 8 rows)
    geo: Path  # a prepared dataset with images (synthetic-geo)
    tiny: Path  # the embedded tiny model dir

    @property
    def inp(self) -> Path:
        path = self.root / "in"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def out_root(self) -> Path:
        """The output's parent dir: the test snapshots it before and after the run."""
        path = self.root / "outputs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def out(self) -> Path:
        return self.out_root / "out"

    @property
    def marker(self) -> Path:
        """A file that hostile content would create if it were ever executed."""
        return self.root / "pwned"


@dataclass(frozen=True)
class Fault:
    id: str
    command: str
    tried: str  # the bad input, as docs/reliability.md lists it
    expect: tuple[str, ...]  # all of these appear in the one error line
    build: Callable[[Workspace], list[str]]
    mount: str | None = (
        None  # tmpfs options mounted on the output location for this run (full/read-only disk)
    )


# ---------------------------------------------------------------- helpers that make bad inputs


def write_jsonl(path: Path, rows: list, raw_tail: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + raw_tail, encoding="utf-8")
    return path


def png_bytes(width: int = 64, height: int = 64) -> bytes:
    """A valid RGB PNG of any size, built by hand so a huge header costs no memory (the pixels are 1 row)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(min(height, 64)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def image_source(ws: Workspace, image: str | list, write: dict[str, bytes] | None = None) -> Path:
    """A Geometry3K-style JSONL with one row whose `images` column holds `image`; files from `write`."""
    for name, data in (write or {}).items():
        (ws.inp / name).parent.mkdir(parents=True, exist_ok=True)
        (ws.inp / name).write_bytes(data)
    images = image if isinstance(image, list) else [image]
    row = {"problem": "<image>Find x in degrees.", "answer": "60", "images": images}
    return write_jsonl(ws.inp / "rows.jsonl", [row])


def prepare(src: Path | str, ws: Workspace, *extra: str) -> list[str]:
    return ["prepare-data", str(src), "-o", str(ws.out), "--max-prompt-tokens", "0", *extra]


def good_row(i: int = 0) -> dict:
    return {"problem": f"What is {i} + 1?", "answer": str(i + 1)}


def copy_dataset(ws: Workspace, src: Path | None = None) -> Path:
    dst = ws.inp / "dataset"
    shutil.copytree(src or ws.data, dst)
    return dst


def copy_model(ws: Workspace, dst: Path | None = None, drop: tuple[str, ...] = ()) -> Path:
    dst = dst or ws.inp / "model"
    shutil.copytree(ws.tiny, dst)
    for name in drop:
        (dst / name).unlink()
    return dst


def truncated_checkpoint_run(ws: Workspace) -> Path:
    """A run dir whose only complete checkpoint has its safetensors file cut in half (a crash mid-copy)."""
    run = ws.inp / "run"
    ckpt = copy_model(ws, run / "checkpoints" / "checkpoint-1")
    (ckpt / "trainer_state.json").write_text('{"global_step": 1}')
    weights = ckpt / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return run


def remote_code_model(ws: Workspace) -> Path:
    """A model dir whose config asks for code shipped in the dir; importing it would create ws.marker."""
    model = copy_model(ws)
    config = json.loads((model / "config.json").read_text())
    config["model_type"] = "lmmr1_evil"
    config["auto_map"] = {
        "AutoConfig": "evil.EvilConfig",
        "AutoModelForImageTextToText": "evil.EvilModel",
        "AutoProcessor": "evil.EvilProcessor",
    }
    (model / "config.json").write_text(json.dumps(config))
    (model / "evil.py").write_text(f"import pathlib\npathlib.Path({str(ws.marker)!r}).write_text('ran')\n")
    return model


def billion_laughs(key_path: str, levels: int = 9) -> str:
    """YAML whose value at a dotted key holds aliases that expand to 10**levels strings (the classic bomb).

    The anchors are defined inside the value itself, so the loader's document contains only that key.
    """
    items = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    items += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    value = "[" + ", ".join(items) + "]"
    section, _, key = key_path.rpartition(".")
    return f"{section}:\n  {key}: {value}\n" if section else f"{key}: {value}\n"


def yaml_file(ws: Workspace, text: str, name: str = "config.yaml") -> Path:
    path = ws.inp / name
    path.write_text(text, encoding="utf-8")
    return path


def train(ws: Workspace, *extra: str, data: Path | None = None) -> list[str]:
    return ["train-fre", "--recipe", "tiny-fre", "--data", str(data or ws.data), "-o", str(ws.out), *extra]


def evaluate(ws: Workspace, *extra: str, model: str = "tiny", bench: Path | None = None) -> list[str]:
    return ["eval", "--model", model, "--benchmark", str(bench or ws.data), "-o", str(ws.out), *extra]


def metrics_run(ws: Workspace, metrics_text: str) -> Path:
    run = ws.inp / "run"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(metrics_text, encoding="utf-8")
    (run / "run.json").write_text(json.dumps({"stage": "fre", "recipe": "tiny-fre"}))
    return run


def existing_output(ws: Workspace, name: str = "keep.txt") -> None:
    """An output that exists already: without --force it must survive untouched."""
    ws.out.mkdir(parents=True, exist_ok=True)
    (ws.out / name).write_text("user data\n")


# ---------------------------------------------------------------- prepare-data


def _p_truncated_line(ws):
    return prepare(
        write_jsonl(ws.inp / "rows.jsonl", [good_row(0), good_row(1)], '{"problem": "What is 2'),
        ws,
        "--strict",
    )


def _p_images_not_list(ws):
    rows = [{"problem": "What is 1 + 1?", "answer": "2", "images": 5}]
    return prepare(write_jsonl(ws.inp / "rows.jsonl", rows), ws, "--strict")


def _p_bom(ws):
    path = ws.inp / "rows.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + b'{"problem": "What is 1 + 1?", "answer": "2"}\n' + b"\xef\xbb\xbf{bad\n"
    )
    return prepare(path, ws, "--strict")


def _p_empty(ws):
    path = ws.inp / "rows.jsonl"
    path.write_bytes(b"")
    return prepare(path, ws)


def _p_blank_lines(ws):
    path = ws.inp / "rows.jsonl"
    path.write_text("\n\n   \n")
    return prepare(path, ws)


def _p_huge_line(ws):
    path = ws.inp / "rows.jsonl"
    with path.open("w") as f:
        f.write('{"problem": "')
        f.write("1 + " * (50 * 1024 * 1024 // 4))
        f.write('1", "answer": "2"')  # no closing brace: one 50 MB line that never ends as an object
    return prepare(path, ws)


def _p_binary(ws):
    path = ws.inp / "rows.jsonl"
    path.write_bytes(bytes(range(256)) * 64)
    return prepare(path, ws)


def _p_invalid_utf8(ws):
    path = ws.inp / "rows.jsonl"
    path.write_bytes(b'{"problem": "What is \xff\xfe 1?", "answer": "2"}\n')
    return prepare(path, ws)


def _p_not_objects(ws):
    return prepare(write_jsonl(ws.inp / "rows.jsonl", [[1, 2], [3, 4]]), ws)


def _p_unknown_columns(ws):
    return prepare(write_jsonl(ws.inp / "rows.jsonl", [{"q": "1+1?", "a": "2"}]), ws)


def _p_unparseable_gold(ws):
    rows = [{"problem": "What is 1 + 1?", "answer": "\\frac{"}]
    return prepare(write_jsonl(ws.inp / "rows.jsonl", rows), ws, "--strict")


def _p_missing_image(ws):
    return prepare(image_source(ws, "images/nowhere.png"), ws, "--strict")


def _p_corrupt_image(ws):
    return prepare(
        image_source(ws, "images/a.png", {"images/a.png": b"\x89PNG not really" * 20}), ws, "--strict"
    )


def _p_truncated_image(ws):
    data = png_bytes(64, 64)
    return prepare(image_source(ws, "images/a.png", {"images/a.png": data[: len(data) // 2]}), ws, "--strict")


def _p_bomb_image(ws):
    return prepare(
        image_source(ws, "images/bomb.png", {"images/bomb.png": png_bytes(100_000, 100_000)}), ws, "--strict"
    )


def _p_image_dotdot(ws):
    (ws.root / "secret.png").write_bytes(png_bytes())
    return prepare(image_source(ws, "../secret.png"), ws, "--strict")


def _p_image_absolute(ws):
    (ws.root / "secret.png").write_bytes(png_bytes())
    return prepare(image_source(ws, str(ws.root / "secret.png")), ws, "--strict")


def _p_image_file_url(ws):
    return prepare(image_source(ws, "file:///etc/hostname"), ws, "--strict")


def _p_image_symlink(ws):
    (ws.root / "secret.png").write_bytes(png_bytes())
    (ws.inp / "images").mkdir(parents=True, exist_ok=True)
    (ws.inp / "images" / "link.png").symlink_to(ws.root / "secret.png")
    return prepare(image_source(ws, "images/link.png"), ws, "--strict")


def _p_image_root_dotdot_later_row(ws):
    # The escape is on the second row: the first row's good image must not end up in a half-written output.
    (ws.inp / "images").mkdir(parents=True, exist_ok=True)
    (ws.inp / "images" / "ok.png").write_bytes(png_bytes())
    rows = [
        {"problem": "<image>Find x.", "answer": "60", "images": ["images/ok.png"]},
        {"problem": "<image>Find y.", "answer": "30", "images": ["images/../../../etc/passwd"]},
    ]
    return prepare(write_jsonl(ws.inp / "rows.jsonl", rows), ws, "--strict")


def _p_recipe_unknown_key(ws):
    write_jsonl(ws.inp / "rows.jsonl", [good_row()])
    return prepare(
        yaml_file(ws, f"name: r\nsource: {ws.inp / 'rows.jsonl'}\nprompt_kye: question\n", "r.yaml"), ws
    )


def _p_recipe_wrong_type(ws):
    write_jsonl(ws.inp / "rows.jsonl", [good_row()])
    return prepare(
        yaml_file(ws, f"name: r\nsource: {ws.inp / 'rows.jsonl'}\nfields: [problem, answer]\n", "r.yaml"), ws
    )


def _p_recipe_bad_format(ws):
    return prepare(yaml_file(ws, "name: r\nformat: csv-ish\nsource: x.jsonl\n", "r.yaml"), ws)


def _p_recipe_not_mapping(ws):
    return prepare(yaml_file(ws, "- name\n- source\n", "r.yaml"), ws)


def _p_recipe_syntax(ws):
    return prepare(yaml_file(ws, "name: r\nsource: [unclosed\n", "r.yaml"), ws)


def _p_recipe_python_tag(ws):
    text = f"name: !!python/object/apply:os.system ['touch {ws.marker}']\nsource: x.jsonl\n"
    return prepare(yaml_file(ws, text, "r.yaml"), ws)


def _p_recipe_bomb(ws):
    write_jsonl(ws.inp / "rows.jsonl", [good_row()])
    text = f"name: r\nsource: {ws.inp / 'rows.jsonl'}\n" + billion_laughs("answer_type")
    return prepare(yaml_file(ws, text, "r.yaml"), ws)


def _p_missing_source(ws):
    return prepare(ws.inp / "missing.jsonl", ws)


def _p_unknown_file_type(ws):
    path = ws.inp / "rows.txt"
    path.write_text("What is 1 + 1? 2\n")
    return prepare(path, ws)


def _p_limit_zero(ws):
    return prepare("synthetic-arith", ws, "--limit", "0")


def _p_num_proc_zero(ws):
    return prepare("synthetic-arith", ws, "--num-proc", "0")


def _p_pixels_inverted(ws):
    return prepare("synthetic-geo", ws, "--limit", "2", "--min-pixels", "50000", "--max-pixels", "3136")


def _p_pixels_negative(ws):
    return prepare("synthetic-geo", ws, "--limit", "2", "--max-pixels", "-1")


def _p_output_exists(ws):
    existing_output(ws)
    return prepare("synthetic-arith", ws, "--limit", "2")


def _p_output_parent_is_file(ws):
    (ws.out_root / "afile").write_text("not a dir\n")
    return ["prepare-data", "synthetic-arith", "--limit", "2", "-o", str(ws.out_root / "afile" / "ds")]


def _p_model_missing_files(ws):
    model = copy_model(ws, drop=("tokenizer.json", "tokenizer_config.json", "processor_config.json"))
    return prepare("synthetic-arith", ws, "--limit", "2", "--model", str(model))


# ---------------------------------------------------------------- verify


def _v(ws, path, *extra):
    return ["verify", str(path), "-o", str(ws.out), *extra]


def _v_missing(ws):
    return _v(ws, ws.inp / "nope.jsonl")


def _v_truncated(ws):
    row = {"prediction": "<answer>2</answer>", "answer": "2"}
    return _v(ws, write_jsonl(ws.inp / "p.jsonl", [row, row], '{"prediction": "<answer>'))


def _v_missing_field(ws):
    return _v(ws, write_jsonl(ws.inp / "p.jsonl", [{"prediction": "x", "answer": "1"}, {"prediction": "x"}]))


def _v_wrong_type(ws):
    return _v(ws, write_jsonl(ws.inp / "p.jsonl", [{"prediction": 2, "answer": "2"}]))


def _v_unknown_answer_type(ws):
    return _v(
        ws, write_jsonl(ws.inp / "p.jsonl", [{"prediction": "x", "answer": "1", "answer_type": "poem"}])
    )


def _v_choices_type(ws):
    row = {"prediction": "B", "answer": "B", "answer_type": "choice", "choices": "A or B"}
    return _v(ws, write_jsonl(ws.inp / "p.jsonl", [row]))


def _v_bom(ws):
    row = b'{"prediction": "<answer>2</answer>", "answer": "2"}\n'
    path = ws.inp / "p.jsonl"
    path.write_bytes(row + b"\xef\xbb\xbf" + row)  # two files concatenated: the second BOM is mid-file
    return _v(ws, path)


def _v_empty(ws):
    path = ws.inp / "p.jsonl"
    path.write_bytes(b"")
    return _v(ws, path)


def _v_invalid_utf8(ws):
    path = ws.inp / "p.jsonl"
    path.write_bytes(b'{"prediction": "\xff", "answer": "2"}\n')
    return _v(ws, path)


def _v_timeout_zero(ws):
    return ["verify", "--pred", "<answer>1</answer>", "--gold", "1", "--timeout", "0"]


def _v_pred_without_gold(ws):
    return ["verify", "--pred", "<answer>1</answer>"]


def _v_output_exists(ws):
    ws.out_root.mkdir(parents=True, exist_ok=True)
    ws.out.write_text("earlier scores\n")
    return _v(ws, write_jsonl(ws.inp / "p.jsonl", [{"prediction": "<answer>2</answer>", "answer": "2"}]))


def _v_bad_answer_type_option(ws):
    return ["verify", "--pred", "<answer>1</answer>", "--gold", "1", "--answer-type", "poem"]


# ---------------------------------------------------------------- train-fre / train-mgt


def _t_missing_data(ws):
    return train(ws, data=ws.inp / "nowhere")


def _t_data_no_manifest(ws):
    data = copy_dataset(ws)
    (data / "manifest.json").unlink()
    return train(ws, data=data)


def _t_data_truncated_rows(ws):
    data = copy_dataset(ws)
    rows = data / "rows.jsonl"
    text = rows.read_text()
    rows.write_text(text + text.splitlines()[0][:25])
    return train(ws, data=data)


def _t_data_manifest_garbage(ws):
    data = copy_dataset(ws)
    (data / "manifest.json").write_text("{not json")
    return train(ws, data=data)


def _t_config_unknown_key(ws):
    return train(ws, "--config", str(yaml_file(ws, "optim:\n  learning_rat: 1.0e-3\n")))


def _t_config_wrong_type(ws):
    return train(ws, "--config", str(yaml_file(ws, "run:\n  max_steps: ten\n")))


def _t_config_section_scalar(ws):
    return train(ws, "--config", str(yaml_file(ws, "rollout: 8\n")))


def _t_config_bomb(ws):
    return train(ws, "--config", str(yaml_file(ws, billion_laughs("description"))))


def _t_config_bomb_int(ws):
    return train(ws, "--config", str(yaml_file(ws, billion_laughs("run.seed"))))


def _t_config_python_tag(ws):
    text = f"run:\n  seed: !!python/object/apply:os.system ['touch {ws.marker}']\n"
    return train(ws, "--config", str(yaml_file(ws, text)))


def _t_config_missing(ws):
    return train(ws, "--config", str(ws.inp / "missing.yaml"))


def _t_override_group_of_one(ws):
    return train(ws, "batch.samples_per_prompt=1")


def _t_override_lr(ws):
    return train(ws, "optim.learning_rate=5")


def _t_override_unknown(ws):
    return train(ws, "optim.lr=1e-3")


def _t_override_no_equals(ws):
    return train(ws, "run.max_steps")


def _t_override_choice(ws):
    return train(ws, "algorithm.scale_rewards=sometimes")


def _t_num_processes_zero(ws):
    return train(ws, "--num-processes", "0")


def _t_unknown_recipe(ws):
    return ["train-fre", "--recipe", "fre-txet", "--data", str(ws.data), "-o", str(ws.out)]


def _t_output_exists(ws):
    existing_output(ws)
    return train(ws)


def _t_model_missing_weights(ws):
    return train(ws, "--model", str(copy_model(ws, drop=("model.safetensors",))), "run.max_steps=1")


def _t_custom_reward_no_function(ws):
    (ws.inp / "reward.py").write_text("def score(completions, **kw):\n    return [0.0] * len(completions)\n")
    return train(ws, f"rewards.custom=[{ws.inp / 'reward.py'}]", "run.max_steps=1")


def _t_custom_reward_missing_file(ws):
    return train(ws, f"rewards.custom=[{ws.inp / 'nope.py'}:score]", "run.max_steps=1")


def _m_init_truncated_checkpoint(ws):
    run = truncated_checkpoint_run(ws)
    return ["train-mgt", "--recipe", "tiny-mgt", "--init", str(run), "--data", str(ws.geo), "-o", str(ws.out)]


def _m_init_missing(ws):
    return [
        "train-mgt",
        "--recipe",
        "tiny-mgt",
        "--init",
        str(ws.inp / "nope"),
        "--data",
        str(ws.geo),
        "-o",
        str(ws.out),
    ]


def _m_init_incomplete_run(ws):
    run = ws.inp / "run"
    (run / "checkpoints" / "checkpoint-2").mkdir(parents=True)  # no trainer_state.json: a killed save
    (run / "metrics.jsonl").write_text("")
    return ["train-mgt", "--recipe", "tiny-mgt", "--init", str(run), "--data", str(ws.geo), "-o", str(ws.out)]


# ---------------------------------------------------------------- eval


def _e_model_missing(ws):
    return evaluate(ws, model=str(ws.inp / "nope"))


def _e_benchmark_missing(ws):
    return evaluate(ws, bench=ws.inp / "nope")


def _e_benchmark_not_dataset(ws):
    (ws.inp / "bench").mkdir()
    (ws.inp / "bench" / "notes.txt").write_text("hi")
    return evaluate(ws, bench=ws.inp / "bench")


def _e_benchmark_truncated(ws):
    data = copy_dataset(ws)
    with (data / "rows.jsonl").open("a") as f:
        f.write('{"id": "x", "problem": "What')
    return evaluate(ws, "--max-new-tokens", "4", bench=data)


def _e_samples_greedy(ws):
    return evaluate(ws, "--samples", "4")


def _e_backend(ws):
    return evaluate(ws, "--backend", "onnx")


def _e_top_p(ws):
    return evaluate(ws, "--top-p", "2")


def _e_dtype(ws):
    return evaluate(ws, "--dtype", "int3", "--max-new-tokens", "4")


def _e_model_missing_weights(ws):
    return evaluate(ws, "--max-new-tokens", "4", model=str(copy_model(ws, drop=("model.safetensors",))))


def _e_truncated_checkpoint(ws):
    return evaluate(ws, "--max-new-tokens", "4", model=str(truncated_checkpoint_run(ws)))


def _e_benchmark_missing_image(ws):
    data = copy_dataset(ws, ws.geo)
    for image in (data / "images").iterdir():
        image.unlink()
    return evaluate(ws, "--max-new-tokens", "4", "--limit", "2", bench=data)


def _e_output_is_file(ws):
    ws.out_root.mkdir(parents=True, exist_ok=True)
    ws.out.write_text("not a dir\n")
    return evaluate(ws, "--max-new-tokens", "4")


def _e_output_foreign_dir(ws):
    existing_output(ws)
    (ws.out / "tiny").mkdir()
    (ws.out / "tiny" / ws.data.name).mkdir()
    (ws.out / "tiny" / ws.data.name / "mine.txt").write_text("user data\n")
    return evaluate(ws, "--max-new-tokens", "4")


# ---------------------------------------------------------------- export


def _x(ws, source, *extra):
    return ["export", str(source), "-o", str(ws.out), *extra]


def _x_missing(ws):
    return _x(ws, ws.inp / "nope")


def _x_no_config(ws):
    return _x(ws, copy_model(ws, drop=("config.json",)))


def _x_no_weights(ws):
    return _x(ws, copy_model(ws, drop=("model.safetensors",)))


def _x_truncated_checkpoint(ws):
    return _x(ws, truncated_checkpoint_run(ws))


def _x_garbage_config(ws):
    model = copy_model(ws)
    (model / "config.json").write_text('{"model_type": ')
    return _x(ws, model)


def _x_dtype(ws):
    return _x(ws, "tiny", "--dtype", "int8")


def _x_output_exists(ws):
    existing_output(ws)
    return _x(ws, "tiny")


def _x_remote_code(ws):
    return _x(ws, remote_code_model(ws))


def _x_lora_no_base(ws):
    adapter = ws.inp / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    return _x(ws, adapter)


# ---------------------------------------------------------------- report


def _r(ws, *runs, extra=()):
    return ["report", *map(str, runs), "-o", str(ws.out), *extra]


def _r_missing_run(ws):
    return _r(ws, ws.inp / "nope")


def _r_no_metrics(ws):
    (ws.inp / "run").mkdir()
    return _r(ws, ws.inp / "run")


def _r_garbage_metrics(ws):
    return _r(ws, metrics_run(ws, '{"step": 1, "reward": 0.5}\n{"step": 2, "rew'))


def _r_wrong_types(ws):
    return _r(ws, metrics_run(ws, '{"step": "one", "reward": "high"}\n'))


def _r_empty_metrics(ws):
    return _r(ws, metrics_run(ws, ""))


def _r_eval_missing_summary(ws):
    (ws.inp / "results").mkdir()
    return _r(ws, metrics_run(ws, '{"step": 1, "reward": 0.5}\n'), extra=("--eval", str(ws.inp / "results")))


def _r_output_exists(ws):
    existing_output(ws)
    return _r(ws, metrics_run(ws, '{"step": 1, "reward": 0.5}\n'))


def _r_metrics_not_objects(ws):
    return _r(ws, metrics_run(ws, "[1, 2, 3]\n"))


def _full_disk_prepare(ws):
    return ["prepare-data", "synthetic-arith", "--limit", "3000", "-o", str(ws.out)]


def _full_disk_export(ws):
    return _x(ws, "tiny")


def _full_disk_verify(ws):
    rows = [{"prediction": f"<answer>{i}</answer>", "answer": str(i), "note": "x" * 200} for i in range(400)]
    return _v(ws, write_jsonl(ws.inp / "p.jsonl", rows))


def _read_only_prepare(ws):
    return ["prepare-data", "synthetic-arith", "--limit", "2", "-o", str(ws.out)]


def _read_only_report(ws):
    return _r(ws, metrics_run(ws, '{"step": 1, "reward": 0.5}\n'))


# Cases whose run loads transformers or a model (5-8 s each on 2 cores) and repeat a fault another case already
# covers. `make test` runs the rest; LMMR1_FAULTS=all runs these too (docs/reliability.md marks them).
EXTENDED = {
    "image-path-file-url",
    "image-path-escape-row-2",
    "output-parent-is-file",
    "jsonl-not-objects",
    "train-data-missing",
    "train-data-no-manifest",
    "train-data-manifest-garbage",
    "train-output-exists",
    "reward-missing-file",
    "init-missing",
    "eval-benchmark-truncated",
    "eval-truncated-safetensors",
    "export-lora-no-base",
    "init-incomplete-run",
    "disk-full-export",
    "read-only-prepare",
    "gold-unparseable",
    "export-no-weights",
    "jsonl-images-not-list",
}


def active_cases() -> list[Fault]:
    """The cases this test session runs."""
    if os.environ.get("LMMR1_FAULTS") == "all":
        return CASES
    return [c for c in CASES if c.id not in EXTENDED]


def _f(id, command, tried, expect, build, mount=None) -> Fault:
    return Fault(id, command, tried, tuple([expect] if isinstance(expect, str) else expect), build, mount)


CASES: list[Fault] = [
    # prepare-data: malformed JSONL
    _f(
        "jsonl-truncated-line",
        "prepare-data",
        "JSONL whose last line is cut mid-object (--strict; without: a drop, `bad_json`)",
        "rows.jsonl",
        _p_truncated_line,
    ),
    _f(
        "jsonl-images-not-list",
        "prepare-data",
        "`images` is a number (--strict)",
        ("row 1", "image"),
        _p_images_not_list,
    ),
    _f(
        "jsonl-bom",
        "prepare-data",
        "UTF-8 BOM at the start of the file and of a broken line (--strict)",
        "rows.jsonl",
        _p_bom,
    ),
    _f("jsonl-empty", "prepare-data", "empty file (0 bytes)", "rows.jsonl", _p_empty),
    _f("jsonl-50mb-line", "prepare-data", "one 50 MB line that never closes", "rows.jsonl", _p_huge_line),
    _f("jsonl-binary", "prepare-data", "binary garbage named .jsonl", "rows.jsonl", _p_binary),
    _f(
        "jsonl-invalid-utf8",
        "prepare-data",
        "invalid UTF-8 bytes inside a string",
        "rows.jsonl",
        _p_invalid_utf8,
    ),
    _f(
        "jsonl-not-objects",
        "prepare-data",
        "lines are JSON arrays, not objects",
        "rows.jsonl",
        _p_not_objects,
    ),
    _f(
        "jsonl-unknown-columns",
        "prepare-data",
        "columns match no known format",
        ("rows.jsonl", "columns"),
        _p_unknown_columns,
    ),
    _f(
        "gold-unparseable",
        "prepare-data",
        "gold answer `\\frac{` (--strict)",
        ("row 1", "gold"),
        _p_unparseable_gold,
    ),
    # prepare-data: images
    _f(
        "image-missing",
        "prepare-data",
        "image file does not exist (--strict)",
        ("row 1", "nowhere.png"),
        _p_missing_image,
    ),
    _f(
        "image-corrupt",
        "prepare-data",
        "image bytes are not an image (--strict)",
        ("row 1", "decoded"),
        _p_corrupt_image,
    ),
    _f(
        "image-truncated",
        "prepare-data",
        "PNG cut in half (--strict)",
        ("row 1", "image"),
        _p_truncated_image,
    ),
    _f(
        "image-bomb",
        "prepare-data",
        "PNG header claiming 100000x100000 pixels (--strict)",
        ("row 1", "decompression bomb"),
        _p_bomb_image,
    ),
    _f(
        "image-path-dotdot",
        "prepare-data",
        "image path `../secret.png` (--strict; without: a drop, `image_outside_root`)",
        ("row 1", "escapes"),
        _p_image_dotdot,
    ),
    _f(
        "image-path-absolute",
        "prepare-data",
        "absolute image path outside the root (--strict)",
        ("row 1", "escapes"),
        _p_image_absolute,
    ),
    _f(
        "image-path-file-url",
        "prepare-data",
        "`file:///etc/hostname` (--strict)",
        ("row 1", "escapes"),
        _p_image_file_url,
    ),
    _f(
        "image-path-symlink",
        "prepare-data",
        "symlink inside the root pointing out of it (--strict)",
        ("row 1", "escapes"),
        _p_image_symlink,
    ),
    _f(
        "image-path-escape-row-2",
        "prepare-data",
        "second row escapes the root after a good first row (--strict)",
        ("row 2", "escapes"),
        _p_image_root_dotdot_later_row,
    ),
    # prepare-data: recipes (YAML)
    _f(
        "recipe-unknown-key",
        "prepare-data",
        "recipe YAML with a misspelt key",
        ("r.yaml", "prompt_kye"),
        _p_recipe_unknown_key,
    ),
    _f(
        "recipe-wrong-type",
        "prepare-data",
        "recipe `fields` is a list",
        ("r.yaml", "fields"),
        _p_recipe_wrong_type,
    ),
    _f(
        "recipe-bad-format",
        "prepare-data",
        "recipe `format: csv-ish`",
        ("r.yaml", "csv-ish"),
        _p_recipe_bad_format,
    ),
    _f("recipe-not-mapping", "prepare-data", "recipe YAML is a list", "r.yaml", _p_recipe_not_mapping),
    _f(
        "recipe-syntax",
        "prepare-data",
        "recipe YAML with a syntax error",
        ("r.yaml", "invalid YAML"),
        _p_recipe_syntax,
    ),
    _f(
        "recipe-python-tag",
        "prepare-data",
        "recipe YAML with `!!python/object/apply:os.system`",
        ("r.yaml", "python/object"),
        _p_recipe_python_tag,
    ),
    _f(
        "recipe-billion-laughs",
        "prepare-data",
        "recipe YAML alias bomb (10^9 strings) at `answer_type`",
        ("r.yaml", "answer_type"),
        _p_recipe_bomb,
    ),
    _f("source-missing", "prepare-data", "data file does not exist", "missing.jsonl", _p_missing_source),
    _f("source-unknown-type", "prepare-data", "`rows.txt`", "rows.txt", _p_unknown_file_type),
    # prepare-data: options and outputs
    _f("option-limit-zero", "prepare-data", "`--limit 0`", "--limit", _p_limit_zero),
    _f("option-num-proc-zero", "prepare-data", "`--num-proc 0`", "--num-proc", _p_num_proc_zero),
    _f(
        "option-pixels-inverted",
        "prepare-data",
        "`--min-pixels 50000 --max-pixels 3136`",
        "pixels",
        _p_pixels_inverted,
    ),
    _f("option-pixels-negative", "prepare-data", "`--max-pixels -1`", "--max-pixels", _p_pixels_negative),
    _f("output-exists", "prepare-data", "output dir exists, no --force", "--force", _p_output_exists),
    _f(
        "output-parent-is-file",
        "prepare-data",
        "output path under a regular file",
        "afile",
        _p_output_parent_is_file,
    ),
    # verify
    _f("verify-missing-input", "verify", "input file does not exist", "nope.jsonl", _v_missing),
    _f("verify-truncated-line", "verify", "last line cut mid-object", ("p.jsonl", "row 3"), _v_truncated),
    _f("verify-missing-field", "verify", "row without `answer`", ("row 2", "answer"), _v_missing_field),
    _f("verify-wrong-type", "verify", "`prediction` is a number", ("row 1", "prediction"), _v_wrong_type),
    _f(
        "verify-unknown-answer-type",
        "verify",
        "`answer_type: poem`",
        ("row 1", "poem"),
        _v_unknown_answer_type,
    ),
    _f("verify-choices-type", "verify", "`choices` is a string", ("row 1", "choices"), _v_choices_type),
    _f(
        "verify-bom-mid-file",
        "verify",
        "UTF-8 BOM at the start of row 2 (concatenated files)",
        ("p.jsonl", "row 2"),
        _v_bom,
    ),
    _f("verify-empty", "verify", "empty input file", ("p.jsonl", "no rows"), _v_empty),
    _f("verify-invalid-utf8", "verify", "invalid UTF-8 in a row", ("p.jsonl", "row 1"), _v_invalid_utf8),
    _f("verify-timeout-zero", "verify", "`--timeout 0`", "--timeout", _v_timeout_zero),
    _f("verify-pred-without-gold", "verify", "`--pred` without `--gold`", "--gold", _v_pred_without_gold),
    _f("verify-answer-type-option", "verify", "`--answer-type poem`", "poem", _v_bad_answer_type_option),
    _f("verify-output-exists", "verify", "`-o` file exists, no --force", "--force", _v_output_exists),
    # train-fre / train-mgt
    _f("train-data-missing", "train-fre", "`--data` dir does not exist", "nowhere", _t_missing_data),
    _f(
        "train-data-no-manifest",
        "train-fre",
        "dataset dir without manifest.json",
        "manifest.json",
        _t_data_no_manifest,
    ),
    _f(
        "train-data-truncated-rows",
        "train-fre",
        "dataset rows.jsonl ends in a cut line",
        ("rows.jsonl", "invalid JSON"),
        _t_data_truncated_rows,
    ),
    _f(
        "train-data-manifest-garbage",
        "train-fre",
        "manifest.json is not JSON",
        "manifest.json",
        _t_data_manifest_garbage,
    ),
    _f(
        "config-unknown-key",
        "train-fre",
        "`--config` with `optim.learning_rat`",
        ("learning_rat", "learning_rate"),
        _t_config_unknown_key,
    ),
    _f(
        "config-wrong-type",
        "train-fre",
        "`run.max_steps: ten`",
        ("run.max_steps", "integer"),
        _t_config_wrong_type,
    ),
    _f(
        "config-billion-laughs",
        "train-fre",
        "alias bomb (10^9 strings) at `description`",
        "description",
        _t_config_bomb,
    ),
    _f(
        "config-billion-laughs-int",
        "train-fre",
        "alias bomb at `run.seed` (an integer key)",
        "run.seed",
        _t_config_bomb_int,
    ),
    _f(
        "config-python-tag",
        "train-fre",
        "`!!python/object/apply:os.system` in --config",
        ("config.yaml", "python/object"),
        _t_config_python_tag,
    ),
    _f("config-missing", "train-fre", "`--config` file does not exist", "missing.yaml", _t_config_missing),
    _f(
        "override-group-of-one",
        "train-fre",
        "`batch.samples_per_prompt=1`",
        "batch.samples_per_prompt",
        _t_override_group_of_one,
    ),
    _f("override-lr-range", "train-fre", "`optim.learning_rate=5`", "optim.learning_rate", _t_override_lr),
    _f("override-unknown-key", "train-fre", "`optim.lr=1e-3`", "optim.lr", _t_override_unknown),
    _f(
        "override-no-equals",
        "train-fre",
        "`run.max_steps` (no value)",
        "run.max_steps",
        _t_override_no_equals,
    ),
    _f(
        "override-bad-choice",
        "train-fre",
        "`algorithm.scale_rewards=sometimes`",
        "algorithm.scale_rewards",
        _t_override_choice,
    ),
    _f(
        "option-num-processes-zero",
        "train-fre",
        "`--num-processes 0`",
        "--num-processes",
        _t_num_processes_zero,
    ),
    _f("recipe-typo", "train-fre", "`--recipe fre-txet`", ("fre-txet", "fre-text"), _t_unknown_recipe),
    _f("train-output-exists", "train-fre", "non-empty run dir, no --force", "--force", _t_output_exists),
    _f(
        "reward-no-function",
        "train-fre",
        "`rewards.custom` path without `:function`",
        ("reward.py", ":"),
        _t_custom_reward_no_function,
    ),
    _f(
        "reward-missing-file",
        "train-fre",
        "`rewards.custom` file does not exist",
        "nope.py",
        _t_custom_reward_missing_file,
    ),
    _f(
        "init-truncated-safetensors",
        "train-mgt",
        "`--init` run whose checkpoint has a truncated safetensors",
        ("in/run", "SafetensorError"),
        _m_init_truncated_checkpoint,
    ),
    _f("init-missing", "train-mgt", "`--init` path does not exist", "nope", _m_init_missing),
    _f(
        "init-incomplete-run",
        "train-mgt",
        "`--init` run with only an unfinished checkpoint",
        "run",
        _m_init_incomplete_run,
    ),
    # eval
    _f("eval-model-missing", "eval", "`--model` path does not exist", "nope", _e_model_missing),
    _f("eval-benchmark-missing", "eval", "`--benchmark` path does not exist", "nope", _e_benchmark_missing),
    _f(
        "eval-benchmark-not-dataset",
        "eval",
        "`--benchmark` dir without rows.jsonl",
        "rows.jsonl",
        _e_benchmark_not_dataset,
    ),
    _f(
        "eval-benchmark-truncated",
        "eval",
        "benchmark rows.jsonl ends in a cut line",
        ("rows.jsonl", "invalid JSON"),
        _e_benchmark_truncated,
    ),
    _f(
        "eval-samples-greedy",
        "eval",
        "`--samples 4` with greedy decoding",
        "--temperature",
        _e_samples_greedy,
    ),
    _f("eval-backend", "eval", "`--backend onnx`", "--backend", _e_backend),
    _f("eval-top-p", "eval", "`--top-p 2`", "--top-p", _e_top_p),
    _f("eval-dtype", "eval", "`--dtype int3`", "int3", _e_dtype),
    _f(
        "eval-truncated-safetensors",
        "eval",
        "run whose checkpoint has a truncated safetensors",
        ("in/run", "SafetensorError"),
        _e_truncated_checkpoint,
    ),
    _f(
        "eval-benchmark-missing-images",
        "eval",
        "benchmark whose image files were deleted",
        ("images", ".png"),
        _e_benchmark_missing_image,
    ),
    _f("eval-output-is-file", "eval", "`-o` is a regular file", "outputs/out", _e_output_is_file),
    _f(
        "eval-output-foreign",
        "eval",
        "`-o` holds a non-eval dir where samples would go",
        "--force",
        _e_output_foreign_dir,
    ),
    # export
    _f("export-missing", "export", "source path does not exist", "nope", _x_missing),
    _f("export-no-config", "export", "model dir without config.json", "model", _x_no_config),
    _f("export-no-weights", "export", "model dir without model.safetensors", "model", _x_no_weights),
    _f(
        "export-truncated-safetensors",
        "export",
        "checkpoint with a truncated safetensors",
        "checkpoint-1",
        _x_truncated_checkpoint,
    ),
    _f("export-garbage-config", "export", "config.json is cut mid-object", "config.json", _x_garbage_config),
    _f("export-dtype", "export", "`--dtype int8`", "int8", _x_dtype),
    _f("export-output-exists", "export", "output dir exists, no --force", "--force", _x_output_exists),
    _f(
        "export-remote-code",
        "export",
        "config with `auto_map` to code in the dir, no trust flag",
        "model",
        _x_remote_code,
    ),
    _f(
        "export-lora-no-base",
        "export",
        "adapter_config.json without a base model",
        "base_model_name_or_path",
        _x_lora_no_base,
    ),
    # report
    _f("report-run-missing", "report", "run dir does not exist", "nope", _r_missing_run),
    _f("report-no-metrics", "report", "run dir without metrics.jsonl", "metrics.jsonl", _r_no_metrics),
    _f(
        "report-metrics-truncated",
        "report",
        "metrics.jsonl ends in a cut line",
        "metrics.jsonl:2",
        _r_garbage_metrics,
    ),
    _f(
        "report-metrics-wrong-types",
        "report",
        '`step: "one"`, `reward: "high"`',
        ("metrics.jsonl:1", "step"),
        _r_wrong_types,
    ),
    _f("report-metrics-empty", "report", "empty metrics.jsonl", "metrics.jsonl", _r_empty_metrics),
    _f(
        "report-metrics-not-objects",
        "report",
        "metrics lines are JSON arrays",
        "metrics.jsonl",
        _r_metrics_not_objects,
    ),
    _f(
        "report-eval-no-summary",
        "report",
        "`--eval` dir without summary.json",
        "summary.json",
        _r_eval_missing_summary,
    ),
    # a full disk (64 KB / 1 MB tmpfs) and a read-only one (as root, chmod does not stop writes: a ro mount does)
    _f(
        "disk-full-prepare",
        "prepare-data",
        "64 KB file system for a 3000-row dataset",
        "No space left",
        _full_disk_prepare,
        "size=64k",
    ),
    _f(
        "disk-full-export",
        "export",
        "1 MB file system for the tiny model's export",
        "No space left",
        _full_disk_export,
        "size=1m",
    ),
    _f(
        "disk-full-verify",
        "verify",
        "8 KB file system for the scored rows",
        "No space left",
        _full_disk_verify,
        "size=8k",
    ),
    _f(
        "read-only-prepare",
        "prepare-data",
        "output on a read-only file system",
        ("outputs", "Read-only"),
        _read_only_prepare,
        "ro",
    ),
    _f(
        "read-only-report",
        "report",
        "report output on a read-only file system",
        ("outputs", "Read-only"),
        _read_only_report,
        "ro",
    ),
    _f("report-output-exists", "report", "output dir exists, no --force", "--force", _r_output_exists),
]
