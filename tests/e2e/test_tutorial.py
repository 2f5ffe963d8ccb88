"""The README's annotation tutorial, command by command as written, through the real `stance`
executable in a project folder of its own: only the model (the test's registered one) and the two
annotators' Label Studio exports (made from the exported tasks, as Label Studio writes them) stand in
for what a person does in a browser."""

import csv
import json
import re
import shutil
import sys
import subprocess
from pathlib import Path

import pytest

from tests_helpers import clean_env

ROOT = Path(__file__).resolve().parents[2]
STANCE = str(Path(sys.executable).with_name("stance"))
ARTICLE = ROOT / "tests/fixtures/new_article.txt"


def tutorial_commands() -> list[str]:
    """The `stance ...` lines of the README's annotation-loop block, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    block = text.split("A corpus grows one article at a time.", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    block = re.sub(r"\\\n\s*", " ", block)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("stance ")]


def _export(tasks, answers):
    return [{"id": k, "data": task["data"], "predictions": [], "annotations": [{
        "id": 100 + k, "completed_by": 1, "was_cancelled": False, "created_at": "2026-12-01T10:00:00Z",
        "result": [{"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}},
                   {"from_name": "holder", "to_name": "text", "type": "textarea", "value": {"text": ["author"]}}]}]}
        for k, (task, label) in enumerate(zip(tasks, answers), start=1)]


@pytest.mark.slow
def test_the_annotation_tutorial_runs_as_written(registered, tiny_seeds, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(tiny_seeds, project / "seeds")
    (project / "annotations").mkdir()
    for name in ("statements.jsonl", "gold.jsonl", "adjudication.csv", "corrections.csv"):
        shutil.copy(ROOT / "annotations" / name, project / "annotations" / name)
    shutil.copy(ARTICLE, project / "new-article.txt")
    env = clean_env(MLFLOW_TRACKING_URI=registered["uri"])
    model = ["-m", registered["model"]]

    def stance(line: str) -> subprocess.CompletedProcess:
        args = line.split()[1:]
        if args[0] in ("predict", "suggest") or args[:2] == ["labelstudio", "export"]:
            args += model  # the tutorial's champion: the test's registered model
        proc = subprocess.run([STANCE, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
        return proc

    commands = [c for c in tutorial_commands() if not c.startswith("stance train")]  # step 6 is the main job
    assert [c.split()[1] for c in commands] == ["corpus", "predict", "suggest", "labelstudio", "labelstudio",
                                                "labelstudio", "annotations", "annotations", "annotations",
                                                "annotations"]
    for line in commands[:4]:  # add, predict, suggest, export for Label Studio
        stance(line)
    tasks = json.loads((project / "labelstudio/tasks.json").read_text())
    assert tasks and all(t["predictions"] for t in tasks)
    first = ["neutral"] * len(tasks)
    second = ["oppose"] + ["neutral"] * (len(tasks) - 1)  # the annotators disagree once
    (project / "export-a.json").write_text(json.dumps(_export(tasks, first)))
    (project / "export-b.json").write_text(json.dumps(_export(tasks, second)))
    for line in commands[4:8]:  # both imports, validate, agreement
        stance(line)
    listed = stance(commands[8]).stdout.splitlines()  # the disagreements to decide
    assert len(listed) == 1 and "--list" in commands[8]
    adjudicate = commands[9]

    # before the decisions sheet exists, the command says how to make it
    proc = subprocess.run([STANCE, *adjudicate.split()[1:]], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "1 disagreements need a decision" in proc.stderr and "--list" in proc.stderr
    sheet = project / "annotations/new-decisions.csv"
    with sheet.open("w", newline="") as handle:
        csv.writer(handle).writerows([["id", "label", "holder", "note"],
                                      [listed[0].split("\t")[0], "neutral", "author", "reporting, no position"]])
    out = stance(adjudicate).stdout
    assert "(1 adjudicated, 0 corrected)" in out  # the seed corpus's corrections are not applied here
    gold = [json.loads(line) for line in (project / "annotations/gold-new.jsonl").read_text().splitlines()]
    assert len(gold) == len(tasks) and {r["label"] for r in gold} == {"neutral"}
