"""The project's set-up: what CI runs is what the README tells users to run."""

import re


def test_ci_runs_the_readme_test_command(root):
    readme = (root / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2, "the README gives exactly two set-up commands"
    main_job, tests = commands
    assert "pytest" in tests and "stance " in main_job
    assert all("-c constraints.txt" in c for c in commands)
    ci = (root / ".ci/run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def test_constraints_pin_the_local_torch_and_pyproject_pins_nothing(root):
    assert "torch==2.13.0" in (root / "constraints.txt").read_text().splitlines()
    pyproject = (root / "pyproject.toml").read_text()
    assert "==" not in pyproject
