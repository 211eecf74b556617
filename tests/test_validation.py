"""Validation during training (`lmmr1_cli/validation.py`): real tiny-model runs of the CLI as a user types them,
compared with `lmmr1 eval` on the same step's checkpoint; the best model as `RUN@best`; bad input in one line."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from conftest import run_lmmr1

from lmmr1_cli.errors import ModelError
from lmmr1_cli.modeling import resolve_model

SMALL = [
    "run.max_steps=2", "run.save_every_rollouts=1", "batch.samples_per_prompt=4", "batch.samples_per_step=16",
    "batch.micro_batch_size=16", "optim.learning_rate=2e-3",
]  # fmt: skip


def _answers(path):
    return [(r["id"], r["completion"], r["correct"]) for r in map(json.loads, path.read_text().splitlines())]


@pytest.fixture(scope="module")
def validated_run(arith_train, eval_arith, tmp_path_factory):
    out = tmp_path_factory.mktemp("validation") / "fre"
    # README "Validation during training", with the sizes of a 2-step test run.
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out,
        "--eval-data", f"held={eval_arith}", "eval.every_rollouts=1", "eval.before_training=true", *SMALL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out, result


def test_each_evaluation_is_a_metrics_row_a_samples_file_and_a_progress_line(validated_run):
    out, result = validated_run
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/held/accuracy" in r]
    assert [r["step"] for r in evals] == [0, 1, 2]
    for row in evals:
        assert (
            0
            <= row["eval/held/accuracy_ci95_low"]
            <= row["eval/held/accuracy"]
            <= row["eval/held/accuracy_ci95_high"]
        )
        assert 0 <= row["eval/held/format"] <= 1 and row["eval/held/rows"] == 12
    # Training rows are still logged at every step, with their own timing.
    assert [r["step"] for r in rows if "reward" in r] == [1, 2]
    assert {p.name for p in (out / "eval" / "held").iterdir()} == {
        "step-0.jsonl",
        "step-1.jsonl",
        "step-2.jsonl",
    }
    assert (
        "eval at step 0: held accuracy" in result.stdout and "eval at step 2: held accuracy" in result.stdout
    )


def test_in_loop_answers_equal_lmmr1_eval_on_the_same_steps_checkpoint(validated_run, eval_arith, tmp_path):
    out, _ = validated_run
    result = run_lmmr1(
        "eval",
        "--model",
        out / "checkpoints" / "checkpoint-2",
        "--benchmark",
        eval_arith,
        "-o",
        tmp_path / "res",
    )
    assert result.returncode == 0, result.stderr
    (samples,) = (tmp_path / "res").glob("*/arith/samples.jsonl")
    assert _answers(out / "eval" / "held" / "step-2.jsonl") == _answers(samples)


def test_best_model_is_saved_recorded_and_named_run_at_best(validated_run, tmp_path):
    out, _ = validated_run
    summary = json.loads((out / "summary.json").read_text())
    best = summary["validation"]["best"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    values = {r["step"]: r["eval/held/accuracy"] for r in rows if "eval/held/accuracy" in r}
    first_max = min(step for step, value in values.items() if value == max(values.values()))
    assert (best["step"], best["value"], best["metric"]) == (
        first_max,
        max(values.values()),
        "eval/held/accuracy",
    )
    assert json.loads((out / "run.json").read_text())["best"] == best
    assert (out / "best" / "config.json").is_file()
    assert resolve_model(f"{out}@best").location == str(out / "best")
    assert resolve_model(str(out)).location == str(out / "final")  # plain RUN is still the final model
    result = run_lmmr1("export", out, "--best", "-o", tmp_path / "exported", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == str(out / "best")


def test_run_at_best_without_validation_says_how_to_get_one(tmp_path):
    (tmp_path / "final").mkdir()
    with pytest.raises(
        ModelError, match=r"no best/ model \(it never evaluated during training\); train with --eval-data"
    ):
        resolve_model(f"{tmp_path}@best")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--eval-data", "{tmp}/missing"], "--eval-data missing: {tmp}/missing is not a dataset dir"),
        (["--eval-data", "{tmp}"], "rows.jsonl: missing"),
        (["--eval-data", "{eval}", "eval.every_rollouts=0"], "eval.every_rollouts must be >= 1, got 0"),
        (
            ["--eval-data", "{eval}", "eval.best_metric=eval/nope/accuracy"],
            "eval.best_metric 'eval/nope/accuracy' is not",
        ),
        (["--eval-data", "a={eval}", "--eval-data", "a={eval}"], "two sets are named 'a'"),
    ],
)
def test_bad_validation_input_is_one_line_before_training(arith_train, eval_arith, tmp_path, extra, message):
    out = tmp_path / "run"
    extra = [e.format(tmp=tmp_path, eval=eval_arith) for e in extra]
    result = run_lmmr1("train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, *extra)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message.format(tmp=tmp_path) in lines[0], result.stderr
    assert not out.exists()  # nothing half-written


README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "**Validation during training.**"


def test_readme_validation_commands_work_as_written(arith_train, geo_train, tmp_path):
    text = README.read_text(encoding="utf-8")
    block = text[text.index(MARKER) :].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("  #")[0] for line in block.splitlines() if line.strip()]
    assert len(commands) == 5 and all(c.startswith("lmmr1 ") for c in commands)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "arith-train").symlink_to(arith_train)
    (tmp_path / "data" / "geo-train").symlink_to(geo_train)
    for command in commands:
        result = run_lmmr1(*shlex.split(command)[1:], cwd=tmp_path)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
    run = tmp_path / "runs" / "fre-val"
    best = json.loads((run / "summary.json").read_text())["validation"]["best"]
    assert best["step"] in (0, 4, 8)
    lineage = json.loads((tmp_path / "runs" / "mgt-from-best" / "run.json").read_text())
    assert lineage["init_model"] == "runs/fre-val@best"  # lineage records which model of the run was used
    assert (tmp_path / lineage["resolved_init"]).resolve() == (run / "best").resolve()
    assert json.loads((tmp_path / "exported" / "fre-best" / "export.json").read_text())["source"].endswith(
        "best"
    )


@pytest.mark.slow
def test_two_processes_shard_the_evaluation_gather_the_single_process_numbers_and_sample_dynamically(
    arith_train, eval_arith, tmp_path
):
    # One 2-process run for both features (dynamic_sampling.py too): each gloo run costs ~25 s here.
    out = tmp_path / "ddp"
    # eval.batch_size=4: 12 rows are 3 batches, 2 on rank 0 and 1 on rank 1.
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, "--num-processes", "2",
        "--eval-data", f"held={eval_arith}", "eval.every_rollouts=1", "eval.batch_size=4", "run.max_steps=2",
        "run.save_every_rollouts=1", "batch.micro_batch_size=16", "rollout.dynamic_sampling=true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["world_size"] == 2
    single = run_lmmr1(
        "eval", "--model", out / "checkpoints" / "checkpoint-2", "--benchmark", eval_arith, "--batch-size", "4",
        "-o", tmp_path / "res",
    )  # fmt: skip
    assert single.returncode == 0, single.stderr
    (samples,) = (tmp_path / "res").glob("*/arith/samples.jsonl")
    gathered = _answers(out / "eval" / "held" / "step-2.jsonl")
    assert len(gathered) == 12 and gathered == _answers(samples)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # Both processes took part in every sampling round (else the run would hang in TRL's reward gather).
    assert [row["step"] for row in rows if "dynamic_sampling/rounds" in row] == [1, 2]


def test_a_resumed_run_keeps_its_recorded_best_and_accepts_new_eval_settings(
    arith_train, eval_arith, tmp_path
):
    out = tmp_path / "fre"
    first = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, "--eval-data", f"held={eval_arith}",
        "eval.every_rollouts=1", "eval.before_training=true", *SMALL[1:], "run.max_steps=1",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    recorded = json.loads((out / "run.json").read_text())["best"]
    (out / "final").rename(tmp_path / "final-1")  # as if killed after checkpoint-1, before final/
    (out / "summary.json").unlink()
    resumed = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, "--eval-data", f"held={eval_arith}",
        "eval.every_rollouts=1", "eval.before_training=true", *SMALL[1:], "run.max_steps=2", "eval.limit=12",
        "--resume", "--allow-config-change",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    best = json.loads((out / "summary.json").read_text())["validation"]["best"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    step_2 = next(r["eval/held/accuracy"] for r in rows if r["step"] == 2 and "eval/held/accuracy" in r)
    if step_2 > recorded["value"]:
        assert best["step"] == 2
    else:
        assert best == recorded  # a resumed run does not forget its best point before the kill
