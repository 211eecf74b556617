"""samples.jsonl: one line per generation, appended batch by batch, so an interrupted eval resumes where it
stopped; eval.json beside it records the settings the samples were made with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lmmr1_cli.atomic import write_json_atomic, write_jsonl_atomic
from lmmr1_cli.errors import OutputExistsError

SAMPLES_FILE = "samples.jsonl"
SETTINGS_FILE = "eval.json"


def read_records(path: Path) -> list[dict]:
    """Complete lines only: a line cut short by a kill is dropped (its batch is generated again)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class SampleStore:
    """The samples of one (model, benchmark) pair under `directory`."""

    def __init__(self, directory: Path, settings: dict, samples: int, force: bool = False):
        self.directory = Path(directory)
        self.samples = samples
        settings_path = self.directory / SETTINGS_FILE
        if self.directory.exists():
            old = json.loads(settings_path.read_text()) if settings_path.is_file() else None
            if force or old is None:
                if not force and any(self.directory.iterdir()):
                    raise OutputExistsError(
                        f"{self.directory} exists and is not an eval output (use --force)"
                    )
                shutil.rmtree(self.directory)
            elif old != settings:
                changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
                raise OutputExistsError(
                    f"{self.directory} holds samples made with other settings ({', '.join(changed)}); "
                    "use --force to start over, or another -o"
                )
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(settings_path, settings)
        self.path = self.directory / SAMPLES_FILE
        self.records = self._complete(read_records(self.path))
        # Rewrite without partial rows, so appends continue from a clean file.
        write_jsonl_atomic(self.path, self.records)

    def _complete(self, records: list[dict]) -> list[dict]:
        by_id: dict[str, list[dict]] = {}
        for rec in records:
            by_id.setdefault(rec["id"], []).append(rec)
        return [
            r for recs in by_id.values() if len({x["sample"] for x in recs}) == self.samples for r in recs
        ]

    def done_ids(self) -> set[str]:
        return {r["id"] for r in self.records}

    def append(self, records: list[dict]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            f.flush()
        self.records.extend(records)
