"""The README's example after classification, as written: the statements file it shows, then each
`stance` command of the block in order (predict, explain, report), through the real executable with
the test's registered model standing in for the champion."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests_helpers import clean_env

ROOT = Path(__file__).resolve().parents[2]
STANCE = str(Path(sys.executable).with_name("stance"))


def example_block() -> tuple[list[str], list[str]]:
    """(the CSV lines shown after `cat statements.csv`, the `stance` command lines) of the README block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("cat statements.csv\n", 1)[1].split("```", 1)[0]
    rows = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    commands = [re.split(r"\s{2,}#", line)[0].strip() for line in block.splitlines() if line.startswith("stance ")]
    return rows, commands


@pytest.mark.slow
def test_the_readme_example_after_classification_runs_as_written(registered, tmp_path):
    rows, commands = example_block()
    (tmp_path / "statements.csv").write_text("\n".join(rows) + "\n")
    assert [c.split()[1] for c in commands] == ["predict", "explain", "report", "report", "report"]
    env = clean_env(MLFLOW_TRACKING_URI=registered["uri"])
    for line in commands:
        args = line.split()[1:]
        if args[0] in ("predict", "explain"):
            args += ["-m", registered["model"]]
        proc = subprocess.run([STANCE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"

    with (tmp_path / "predictions.csv").open(newline="") as handle:
        predictions = list(csv.DictReader(handle))
    assert len(predictions) == len(rows) - 1 and {"date", "holder", "url", "label"} <= set(predictions[0])
    page = (tmp_path / "why.html").read_text()
    assert page.count('<span class="label">') == len(predictions)  # one explained statement each
    assert re.search(r'<span style="background: rgba\([^)]*\)" title="[+-]\d\.\d{4}">Moscow</span>', page)
    for folder, views in (("report", ("holder", "outlet", "article", "week")), ("weekly", ("holder", "week"))):
        assert (tmp_path / folder / "report.md").is_file()
        assert sorted(p.name for p in (tmp_path / folder).glob("by_*.csv")) == sorted(f"by_{v}.csv" for v in views)
    assert (tmp_path / "weekly/report.html").read_text().count("data:image/png;base64,") >= 1
    with (tmp_path / "report/by_outlet.csv").open(newline="") as handle:
        outlets = {row[next(iter(row))] for row in csv.DictReader(handle)}
    assert {"lemonde.fr", "tass.com", "bbc.co.uk"} <= outlets
