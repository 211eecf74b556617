"""Every shipped data recipe runs its real adapter on a local fixture in that dataset's schema."""

from __future__ import annotations

import json

import benchmark_sources as sources
import pytest
from data_fixtures import png_bytes, prepare_into, write_jsonl, write_parquet

from lmmr1_cli.data.recipes import list_recipes, load_recipe, resolve_recipe
from lmmr1_cli.errors import ConfigError


def deepscaler(tmp):
    rows = [
        {"problem": "Compute $1+1$.", "answer": "2", "solution": "..."},
        {"problem": "Find $x$ if $2x=1$.", "answer": "\\frac{1}{2}", "solution": "..."},
    ]
    return write_jsonl(tmp / "deepscaler.jsonl", rows)


def _messages(tmp, name, image_dir, paths):
    """LMM-R1 message JSONL whose image paths are foreign (cluster-absolute or repo-relative), as released."""
    (tmp / image_dir).mkdir()
    (tmp / image_dir / "a.png").write_bytes(png_bytes(color=(1, 2, 3)))
    (tmp / image_dir / "b.png").write_bytes(png_bytes(color=(4, 5, 6)))
    rows = []
    for i, (img, gold) in enumerate(zip(paths, ["$\\boxed{60}$", "$\\boxed{3}$"], strict=True)):
        message = [
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": [{"type": "image", "image": img}, {"type": "text", "text": f"Q{i}?"}],
            },
        ]
        rows.append({"message": json.dumps(message), "answer": gold})
    return write_jsonl(tmp / f"{name}.jsonl", rows)


def vermulti(tmp):
    paths = ["file:///apdcephfs_gy2/share_1/lmm/mathv60k_img/a.png", "/apdcephfs_gy2/x/mathv60k_img/b.png"]
    return _messages(tmp, "mathv60k_message", "mathv60k_img", paths)


def vermulti_geo(tmp):
    paths = ["data/mathv_geo/mathv_geo_img/a.png", "data/mathv_geo/mathv_geo_img/b.png"]
    return _messages(tmp, "mathv_geo_message", "mathv_geo_img", paths)


def geometry3k(tmp):
    import datasets

    return write_parquet(
        tmp / "geo3k.parquet",
        {
            "images": [[png_bytes(color=(9, 9, 9))], [png_bytes(color=(8, 8, 8))]],
            "problem": ["<image>Find x.", "<image>Find the area of the circle."],
            "answer": ["60", "16\\pi"],
        },
        {
            "images": datasets.List(datasets.Image()),
            "problem": datasets.Value("string"),
            "answer": datasets.Value("string"),
        },
    )


# recipe -> (fixture builder, expected kept rows, check on the rows)
CASES = {
    "deepscaler": (
        deepscaler,
        2,
        lambda rows: rows[1]["answer"] == "\\frac{1}{2}" and rows[0]["images"] == [],
    ),
    "vermulti": (vermulti, 2, lambda rows: rows[0]["problem"] == "Q0?" and len(rows[1]["images"]) == 1),
    "vermulti-geo": (vermulti_geo, 2, lambda rows: rows[1]["answer_type"] == "geometry"),
    "geometry3k": (
        geometry3k,
        2,
        lambda rows: rows[0]["problem"] == "Find x." and len(rows[0]["images"]) == 1,
    ),
    "mathvista-testmini": (
        sources.mathvista,
        3,
        lambda rows: (
            (rows[0]["answer"], rows[0]["answer_type"], rows[1]["answer_type"], rows[1]["choices"])
            == ("B", "choice", "math", None)
        ),
    ),
    "mathverse-testmini": (
        sources.mathverse,
        6,
        lambda rows: rows[5]["answer_type"] == "math" and rows[0]["id"] == "mathverse-testmini-1",
    ),
    "mathvision": (
        sources.mathvision,
        3,
        lambda rows: [r["answer_type"] for r in rows] == ["choice", "math", "math"],
    ),
    "mmstar": (
        sources.mmstar,
        3,
        lambda rows: rows[1]["answer"] == "C" and rows[1]["answer_type"] == "choice",
    ),
    "math500": (sources.math500, 2, lambda rows: rows[1]["answer"] == "2\\sqrt{2}"),
    "gpqa-diamond": (
        sources.gpqa,
        3,
        lambda rows: (
            rows[0]["choices"][ord(rows[0]["answer"]) - 65] == "Argon" and len(rows[0]["choices"]) == 4
        ),
    ),
    "olympiadbench": (
        sources.olympiadbench,
        3,
        lambda rows: [r["answer"] for r in rows] == ["$6$", "$2$", "$(1,2),(2,1)$"],
    ),
}


def test_every_shipped_dataset_recipe_has_a_fixture_test():
    shipped = {r.name for r in list_recipes() if r.format != "synthetic"}
    assert shipped == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_recipe_adapter_reads_its_dataset_schema(name, tmp_path):
    build, kept, check = CASES[name]
    source = build(tmp_path)
    recipe = load_recipe(name)
    manifest, rows = prepare_into(tmp_path / "out", name, source=str(source), split=recipe.split)
    assert manifest["counts"]["kept"] == kept, manifest
    assert check(rows), rows
    assert all(r["answer_type"] in ("math", "choice", "geometry") for r in rows)


def test_mathverse_recipe_keeps_all_five_problem_versions(tmp_path):
    manifest, rows = prepare_into(
        tmp_path / "out", "mathverse-testmini", source=str(sources.mathverse(tmp_path)), split="testmini"
    )
    assert manifest["drops"] == {} and len(rows) == 6


def test_olympiadbench_drops_theorem_proving_rows_without_a_final_answer(tmp_path):
    manifest, _ = prepare_into(tmp_path / "out", "olympiadbench", source=str(sources.olympiadbench(tmp_path)))
    assert manifest["drops"] == {"missing_answer": 1}


def test_gpqa_choice_order_is_stable_across_runs(tmp_path):
    source = str(sources.gpqa(tmp_path))
    _, first = prepare_into(tmp_path / "a", "gpqa-diamond", source=source)
    _, second = prepare_into(tmp_path / "b", "gpqa-diamond", source=source)
    assert [r["choices"] for r in first] == [r["choices"] for r in second]


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(ConfigError, match="deepscaler"):
        load_recipe("no-such-recipe")


def test_recipe_yaml_with_unknown_key_is_rejected(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nsource: x.jsonl\nfeilds: {problem: q}\n")
    with pytest.raises(ConfigError, match="feilds"):
        resolve_recipe(str(path))


def test_custom_recipe_file_maps_fields(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"q": "What is 3+4?", "gt": "7"}])
    (tmp_path / "mine.yaml").write_text(
        f"name: mine\nsource: {tmp_path / 'd.jsonl'}\nfields: {{problem: q, answer: gt}}\n"
    )
    manifest, rows = prepare_into(tmp_path / "out", str(tmp_path / "mine.yaml"))
    assert rows[0]["problem"] == "What is 3+4?" and rows[0]["answer"] == "7"


def test_recipes_are_found_from_the_installed_package_not_the_checkout():
    from importlib import resources

    assert (resources.files("lmmr1_cli") / "data_recipes" / "geometry3k.yaml").is_file()


def test_easyr1_style_recipe_with_custom_keys_and_image_dir(tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "p1.png").write_bytes(png_bytes(color=(40, 40, 40)))
    write_jsonl(tmp_path / "train.jsonl", [{"prompt": "<image>What is x?", "gt": "12", "imgs": ["p1.png"]}])
    (tmp_path / "easyr1.yaml").write_text(
        "name: easyr1\n"
        f"source: {tmp_path / 'train.jsonl'}\n"
        "image_dir: pics\n"
        "fields: {problem: prompt, answer: gt, images: imgs}\n"
    )
    manifest, rows = prepare_into(tmp_path / "out", str(tmp_path / "easyr1.yaml"))
    assert rows[0]["problem"] == "What is x?" and rows[0]["images"][0].startswith("images/")
    assert (tmp_path / "out" / rows[0]["images"][0]).is_file()


def test_fields_recipe_rebases_foreign_image_paths_with_an_anchor(tmp_path):
    (tmp_path / "geo_img").mkdir()
    (tmp_path / "geo_img" / "1.png").write_bytes(png_bytes(color=(50, 60, 70)))
    write_jsonl(
        tmp_path / "t.jsonl",
        [{"problem": "<image>Find x.", "answer": "3", "images": ["/mnt/old/geo_img/1.png"]}],
    )
    (tmp_path / "r.yaml").write_text(
        f"name: r\nsource: {tmp_path / 't.jsonl'}\nfields: {{problem: problem, answer: answer, images: images}}\n"
        "options: {image_path_anchor: geo_img/}\n"
    )
    _, rows = prepare_into(tmp_path / "out", str(tmp_path / "r.yaml"))
    assert len(rows[0]["images"]) == 1
