"""Small local copies of the paper's benchmarks in each source's real schema (the columns the hub copies have,
with their types), so each benchmark recipe runs on a file like the one a user downloads: nothing is fetched.

Schemas: CaraJ/MathVerse-lmmseval testmini, MathLLMs/MathVision test, AI4Math/MathVista testmini,
Lin-Chen/MMStar val, lmms-lab/OlympiadBench test_en, HuggingFaceH4/MATH-500 test, Idavidrein/gpqa gpqa_diamond
(CSV). Each builder writes `tmp/<name>.<ext>` and returns its path.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from PIL import Image

MATHVERSE_VERSIONS = ("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only")


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _parquet(path: Path, columns: dict, features: dict) -> Path:
    import datasets

    datasets.Dataset.from_dict(columns, features=datasets.Features(features)).to_parquet(str(path))
    return path


def _str():
    import datasets

    return datasets.Value("string")


def mathverse(tmp: Path) -> Path:
    """One problem in all five versions plus one free-form problem (Vision Only): 6 rows."""
    import datasets

    rows = []
    for i, version in enumerate(MATHVERSE_VERSIONS):
        rows.append(
            {
                "sample_index": str(i + 1),
                "problem_index": "1",
                "problem_version": version,
                "question": "As shown in the figure, AB is parallel to CD. Find angle 2.\nChoices:\nA:40°\nB:50°",
                "image": png((10 * i, 20, 30)),
                "answer": "B",
                "question_type": "multi-choice",
                "metadata": {
                    "split": "testmini",
                    "source": "GeoQA",
                    "subject": "Plane Geometry",
                    "subfield": "Angle",
                },
                "query_wo": f"[{version}] Please directly answer the question and provide the correct option letter.",
                "query_cot": f"[{version}] Please first conduct reasoning, and then answer the question.",
                "question_for_eval": "Find angle 2.",
            }
        )
    rows.append(
        {
            **rows[-1],
            "sample_index": "6",
            "problem_index": "2",
            "image": png((200, 100, 50)),
            "answer": "12",
            "question_type": "free-form",
            "query_wo": "According to the question shown in the image, please directly answer the question.",
        }
    )
    features = {
        k: _str()
        for k in ("sample_index", "problem_index", "problem_version", "question", "answer", "question_type")
    }
    features |= {k: _str() for k in ("query_wo", "query_cot", "question_for_eval")}
    features["image"] = datasets.Image()
    features["metadata"] = {k: _str() for k in ("split", "source", "subject", "subfield")}
    columns = {k: [r[k] for r in rows] for k in features}
    return _parquet(tmp / "mathverse-testmini.parquet", columns, features)


def mathvision(tmp: Path) -> Path:
    """Two geometry rows (one with options) and one algebra row: 3 rows."""
    import datasets

    columns = {
        "id": ["1", "2", "3"],
        "question": [
            "<image1>\nWhich of the shapes has the largest area?",
            "In the triangle <image1> angle A is 50 degrees. Find angle B.",
            "How many numbers in <image1> are even?",
        ],
        "options": [["A", "B", "C", "D", "E"], [], []],
        "image": ["images/1.jpg", "images/2.jpg", "images/3.jpg"],
        "decoded_image": [png((1, 2, 3)), png((4, 5, 6)), png((7, 8, 9))],
        "answer": ["C", "65", "4"],
        "solution": [None, "The triangle is isosceles.", None],
        "level": [2, 3, 1],
        "subject": ["metric geometry - area", "metric geometry - angle", "algebra"],
    }
    features = {
        "id": _str(),
        "question": _str(),
        "options": datasets.List(_str()),
        "image": _str(),
        "decoded_image": datasets.Image(),
        "answer": _str(),
        "solution": _str(),
        "level": datasets.Value("int64"),
        "subject": _str(),
    }
    return _parquet(tmp / "mathvision-test.parquet", columns, features)


def mathvista(tmp: Path) -> Path:
    """A multiple-choice row, an integer row with a unit, a two-decimal float row: 3 rows."""
    import datasets

    meta = {"category": "math-targeted-vqa", "context": "geometry diagram", "grade": "high school"}
    columns = {
        "pid": ["1", "2", "3"],
        "question": ["Which side is longest?", "How many cubes are there?", "What is the slope of the line?"],
        "image": ["images/1.jpg", "images/2.jpg", "images/3.jpg"],
        "decoded_image": [png((11, 12, 13)), png((14, 15, 16)), png((17, 18, 19))],
        "choices": [["AB", "BC", "CA"], None, None],
        "unit": [None, "cubes", None],
        "precision": [None, None, 2.0],
        "answer": ["BC", "7", "0.25"],
        "question_type": ["multi_choice", "free_form", "free_form"],
        "answer_type": ["text", "integer", "float"],
        "metadata": [meta, meta, meta],
        "query": ["Hint: ...\nQuestion: Which side is longest?", "Hint: ...", "Hint: ..."],
    }
    features = {
        "pid": _str(),
        "question": _str(),
        "image": _str(),
        "decoded_image": datasets.Image(),
        "choices": datasets.List(_str()),
        "unit": _str(),
        "precision": datasets.Value("float64"),
        "answer": _str(),
        "question_type": _str(),
        "answer_type": _str(),
        "metadata": {k: _str() for k in meta},
        "query": _str(),
    }
    return _parquet(tmp / "mathvista-testmini.parquet", columns, features)


def mmstar(tmp: Path) -> Path:
    """Three rows in two categories (options written inside the question): 3 rows."""
    import datasets

    columns = {
        "index": [0, 1, 2],
        "question": [
            "Which animal is shown?\nOptions: A: cat, B: dog, C: bird, D: fish",
            "How many people are there?\nOptions: A: 1, B: 2, C: 3, D: 4",
            "What is the area of the square?\nOptions: A: 4, B: 8, C: 16, D: 32",
        ],
        "image": [png((21, 22, 23)), png((24, 25, 26)), png((27, 28, 29))],
        "answer": ["A", "C", "C"],
        "category": ["coarse perception", "fine-grained perception", "math"],
        "l2_category": ["image scene and topic", "object counting", "geometry"],
        "meta_info": [
            {"source": "SEEDBench", "split": "val", "image_path": f"images/{i}.jpg"} for i in range(3)
        ],
    }
    features = {
        "index": datasets.Value("int64"),
        "question": _str(),
        "image": datasets.Image(),
        "answer": _str(),
        "category": _str(),
        "l2_category": _str(),
        "meta_info": {"source": _str(), "split": _str(), "image_path": _str()},
    }
    return _parquet(tmp / "mmstar-val.parquet", columns, features)


def olympiadbench(tmp: Path) -> Path:
    """A multimodal math row, a text-only physics row, a multi-answer row and a theorem-proving row (no final
    answer, dropped): 4 rows, 3 kept."""
    import datasets

    columns = {
        "question_id": [1606, 2231, 1700, 2500],
        "question": [
            "In the figure, find the area of triangle $ABC$.",
            "A ball is dropped from 20 m. Find the time to reach the ground (g = 10 m/s^2).",
            "Find all pairs $(a, b)$ of positive integers with $a + b = 3$.",
            "Prove that there are infinitely many primes.",
        ],
        "solution": [["..."], ["..."], ["..."], ["..."]],
        "final_answer": [["$6$"], ["$2$"], ["$(1,2),(2,1)$"], None],
        "context": [None, None, None, None],
        "images": [[png((31, 32, 33))], [], [], []],
        "modality": ["Multimodal", "Text-only", "Text-only", "Text-only"],
        "difficulty": ["Competition"] * 4,
        "is_multiple_answer": [False, False, True, None],
        "unit": [None, "s", None, None],
        "answer_type": ["Numerical", "Numerical", "Tuple", "Need_human_evaluate"],
        "error": [None, "0.1", None, None],
        "question_type": ["Open-ended", "Open-ended", "Open-ended", "Theorem proof"],
        "subfield": ["Geometry", "Mechanics", "Number Theory", "Number Theory"],
        "subject": ["Math", "Physics", "Math", "Math"],
        "language": ["English"] * 4,
        "source": [
            "OE_MM_maths_en_COMP",
            "OE_TO_physics_en_COMP",
            "OE_TO_maths_en_COMP",
            "TP_TO_maths_en_COMP",
        ],
    }
    features = {k: _str() for k in columns}
    features |= {
        "question_id": datasets.Value("int64"),
        "solution": datasets.List(_str()),
        "final_answer": datasets.List(_str()),
        "images": datasets.List(datasets.Image()),
        "is_multiple_answer": datasets.Value("bool"),
    }
    return _parquet(tmp / "olympiadbench-test_en.parquet", columns, features)


def math500(tmp: Path) -> Path:
    rows = [
        {
            "problem": "Compute $\\dbinom{8}{4}$.",
            "solution": "$\\dbinom{8}{4} = \\boxed{70}$.",
            "answer": "70",
            "subject": "Counting & Probability",
            "level": 2,
            "unique_id": "test/counting_and_probability/1.json",
        },
        {
            "problem": "Simplify $\\sqrt{8}$.",
            "solution": "$\\sqrt{8} = \\boxed{2\\sqrt{2}}$.",
            "answer": "2\\sqrt{2}",
            "subject": "Algebra",
            "level": 1,
            "unique_id": "test/algebra/2.json",
        },
    ]
    path = tmp / "math500-test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


GPQA_COLUMNS = [
    "Pre-Revision Question",
    "Pre-Revision Correct Answer",
    "Pre-Revision Incorrect Answer 1",
    "Pre-Revision Incorrect Answer 2",
    "Pre-Revision Incorrect Answer 3",
    "Pre-Revision Explanation",
    "Self-reported question-writing time (minutes)",
    "Question",
    "Correct Answer",
    "Incorrect Answer 1",
    "Incorrect Answer 2",
    "Incorrect Answer 3",
    "Explanation",
    "Record ID",
    "High-level domain",
    "Subdomain",
]


def gpqa(tmp: Path) -> Path:
    questions = [
        ("Which noble gas is the most abundant in air?", "Argon", "Neon", "Helium", "Krypton", "Physics"),
        ("Which particle is a lepton?", "Electron", "Proton", "Neutron", "Pion", "Physics"),
        ("Which base pairs with adenine in DNA?", "Thymine", "Cytosine", "Guanine", "Uracil", "Biology"),
    ]
    path = tmp / "gpqa_diamond.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(GPQA_COLUMNS)
        for i, (q, right, w1, w2, w3, domain) in enumerate(questions):
            writer.writerow(
                [q, right, w1, w2, w3, "...", "10", q, right, w1, w2, w3, "...", f"rec{i}", domain, "x"]
            )
    return path


BUILDERS = {
    "mathverse-testmini": mathverse,
    "mathvision": mathvision,
    "mathvista-testmini": mathvista,
    "mmstar": mmstar,
    "olympiadbench": olympiadbench,
    "math500": math500,
    "gpqa-diamond": gpqa,
}
