"""The package's structure: no import cycles and no loops between its folders, MLflow only in
``stance.tracking`` (which never calls back up), a light prediction path, one home for the registered
model's name, at most 16 modules directly in ``stance/``, and a test tree that mirrors the package."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stance"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every stance module a file imports, at the top or inside a function (a lazy import is still an edge)."""
    edges = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            edges.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                edges.add(sub if sub in modules else node.module)
    return edges


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    graph = import_graph()
    assert "stance.experiment.engine" in graph and graph["stance.experiment.engine"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_table_formatting_is_a_leaf():
    assert import_graph()["stance.tables"] <= {"stance.errors"}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_only_tracking_imports_mlflow(name):
    path = _modules()[name]
    uses = any(isinstance(n, (ast.Import, ast.ImportFrom)) and any(
        (getattr(n, "module", None) or a.name).split(".")[0] == "mlflow" for a in n.names)
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
    assert not uses or name.startswith("stance.tracking"), f"{name} imports mlflow"


def test_the_registered_name_and_alias_are_written_once():
    code = {name: path.read_text(encoding="utf-8") for name, path in _modules().items()}
    for literal in ('"stance-foreign-troops"', '"champion"'):
        assert [name for name, text in code.items() if literal in text] == ["stance.tracking.store"], literal


def _folder(module: str) -> str:
    """The package folder a module lives in (``stance`` for the modules directly in it)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (PACKAGE / parts[-1]).is_dir() else "stance"


def test_at_most_16_modules_directly_in_the_package():
    direct = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(direct) <= 16, direct


def test_no_two_modules_share_a_name():
    names = [p.stem for p in PACKAGE.rglob("*.py") if p.stem != "__init__"]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_no_loops_between_package_folders():
    folders: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        folders.setdefault(_folder(module), set()).update(_folder(t) for t in targets)
    graph = {folder: targets - {folder, "stance"} for folder, targets in folders.items() if folder != "stance"}
    assert find_cycle(graph) is None


def test_the_tracking_adapter_reaches_no_higher_floor():
    # tracking is what experiments and serving use to reach MLflow: it never calls back into them
    higher = ("stance.experiment", "stance.serving", "stance.cli")
    uses = {m: sorted(t for t in targets if t.startswith(higher))
            for m, targets in import_graph().items() if m.startswith("stance.tracking")}
    assert {m: t for m, t in uses.items() if t} == {}


def test_the_light_prediction_path_loads_no_heavy_library():
    # the ONNX path (stance predict's default) must stay quick to start: no MLflow, torch or sklearn
    import subprocess
    import sys

    code = ("import sys; import stance.serving.predict, stance.serving.onnx.cache, stance.serving.rows, "
            "stance.serving.output; print(sorted(m for m in ('mlflow', 'torch', 'sklearn', 'transformers') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_test_tree_mirrors_the_package():
    tests = Path(__file__).resolve().parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and p.name not in {"e2e", "fixtures", "__pycache__"}}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders <= packages, sorted(folders - packages)
    for path in tests.rglob("test_*.py"):
        assert path.parent == tests or path.parent.name in packages | {"e2e"}, path
