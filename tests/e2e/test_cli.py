import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from stance.cli.commands import main
from tests_helpers import corrupt_copy


@pytest.fixture
def run(project_copy, monkeypatch):
    monkeypatch.chdir(project_copy)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_extract_is_idempotent_on_the_seeds(run, project_copy):
    before = (project_copy / "annotations/statements.jsonl").read_bytes()
    result = run("corpus", "extract")
    assert result.exit_code == 0 and "(unchanged)" in result.output
    assert (project_copy / "annotations/statements.jsonl").read_bytes() == before


def test_validate_passes_on_the_gold(run):
    result = run("annotations", "validate")
    assert result.exit_code == 0 and result.output.startswith("ok: 6 files valid")


def test_validate_reports_four_problems_and_exits_1(run, project_copy):
    bad = project_copy / "annotations/bad.jsonl"
    last = corrupt_copy(project_copy / "annotations/gold.jsonl", bad)
    result = run("annotations", "validate", str(bad))
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{bad}:2", f"{bad}:3", f"{bad}:4", f"{bad}:{last}"]
    assert "unknown label 'favour'" in lines[0]
    assert "span" in lines[1] and "duplicate id" in lines[2] and "invalid JSON" in lines[3]


def test_report_prints_labels_per_document(run, project_copy):
    result = run("corpus", "report")
    assert result.exit_code == 0
    gold = [json.loads(line) for line in (project_copy / "annotations/gold.jsonl").read_text().splitlines()]
    for document in {g["document"] for g in gold}:
        assert document in result.output
    assert "support" in result.output and "oppose" in result.output and "neutral" in result.output
    total_row = [line for line in result.output.splitlines() if line.strip("│ ").startswith("all")][0]
    assert total_row.split()[-2] == str(len(gold))


def test_agreement_and_adjudication_commands(run):
    result = run("annotations", "agreement")
    assert result.exit_code == 0 and "Cohen's kappa=" in result.output and "Krippendorff's alpha=" in result.output
    listed = run("annotations", "adjudicate", "--list").output.strip().splitlines()
    result = run("annotations", "adjudicate")
    assert result.exit_code == 0 and f"({len(listed)} adjudicated, 1 corrected)" in result.output and "(unchanged)" in result.output


def test_import_then_agreement_between_any_two_passes(run, project_copy, tmp_path):
    statements = [json.loads(l) for l in (project_copy / "annotations/statements.jsonl").read_text().splitlines()]
    sheet = tmp_path / "all-neutral.csv"
    sheet.write_text("id,label,holder,rationale\n" + "".join(f"{s['id']},neutral,author,x\n" for s in statements))
    out = tmp_path / "c.jsonl"
    assert run("annotations", "import", str(sheet), "--annotator", "c", "--out", str(out)).exit_code == 0
    result = run("annotations", "agreement", "annotations/gold.jsonl", str(out))
    assert result.exit_code == 0 and f"n={len(statements)}" in result.output


def test_datasheet_check(run, project_copy):
    assert run("annotations", "datasheet", "--check").exit_code == 0
    readme = project_copy / "annotations/README.md"
    readme.write_text(readme.read_text().replace("Cohen's kappa: 0.", "Cohen's kappa: 9."))
    assert run("annotations", "datasheet", "--check").exit_code == 1
    assert run("annotations", "datasheet").exit_code == 0
    assert run("annotations", "datasheet", "--check").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["corpus", "report", "--gold", "missing.jsonl"], "error: missing.jsonl: JSONL file not found"),
    (["corpus", "extract", "--articles", "nowhere"], "error: nowhere: seeds folder not found"),
    (["corpus", "report", "--by", "colour"], "error: annotations/gold.jsonl: unknown field 'colour'"),
])
def test_user_errors_are_one_line_exit_2_without_traceback(project_copy, args, message):
    """The real console script, in a subprocess."""
    stance = shutil.which("stance", path=str(__import__("pathlib").Path(sys.executable).parent))
    proc = subprocess.run([stance, *args], cwd=project_copy, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == message
    assert "Traceback" not in proc.stderr + proc.stdout
