"""Reading a Label Studio export back: a malformed export, or one whose tasks show statements
that are not the ones given, is one error naming the export and the task."""

import json
from pathlib import Path

import pytest

from stance.annotation.articles import add_article
from stance.annotation.labelstudio import import_export, tasks
from stance.errors import StanceError

ARTICLE = Path(__file__).resolve().parents[2] / "tests/fixtures/new_article.txt"


@pytest.fixture
def made(tiny_seeds, tmp_path):
    """The statements of a new article and their Label Studio tasks."""
    added = add_article(ARTICLE, tiny_seeds, tmp_path / "pending")
    statements = [json.loads(line) for line in added.pending.read_text().splitlines()]
    return statements, tasks(statements, tiny_seeds)


def answered(task, number, label="neutral"):
    return {"id": number, "data": task["data"], "annotations": [{"id": number, "completed_by": 1, "result": [
        {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}},
        {"from_name": "holder", "to_name": "text", "type": "textarea", "value": {"text": ["author"]}}]}]}


def write(tmp_path, exported) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    return path


def test_an_export_of_the_statements_given_imports_them_as_they_are(made, tmp_path):
    statements, task_list = made
    path = write(tmp_path, [answered(t, k) for k, t in enumerate(task_list, start=1)])
    records, unanswered = import_export(path, "tester", statements=statements)
    assert unanswered == 0 and [r["id"] for r in records] == [s["id"] for s in statements]
    assert all(r["target"] == s["target"] and r["text"] == s["text"] for r, s in zip(records, statements))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(id="006_unknown:deadbeef"), r"task 1: statement '006_unknown:deadbeef' is not one of the "
                                                     r"statements given"),
    (lambda d: d.update(text=d["text"] + " (edited)"), r"task 1: statement '.+' differs from the one given"),
    (lambda d: d.update(start=d["start"] + 1), r"task 1: statement '.+' differs from the one given"),
])
def test_a_task_with_a_statement_not_given_is_an_error(made, tmp_path, change, message):
    statements, task_list = made
    exported = [answered(t, k) for k, t in enumerate(task_list, start=1)]
    change(exported[0]["data"])
    with pytest.raises(StanceError, match=rf"export\.json: {message}"):
        import_export(write(tmp_path, exported), "tester", statements=statements)


def test_one_statement_in_two_tasks_is_an_error(made, tmp_path):
    statements, task_list = made
    path = write(tmp_path, [answered(task_list[0], 1), answered(task_list[0], 2, "oppose")])
    with pytest.raises(StanceError, match=r"export\.json: task 2: statement '.+' is also in task 1"):
        import_export(path, "tester", statements=statements)


@pytest.mark.parametrize("mangle, message", [
    (lambda e: e.__setitem__(0, "a string"), r"task 1: not a task object"),
    (lambda e: e[0].__setitem__("data", ["not", "a", "dict"]), r"task 1: no statement data"),
    (lambda e: e[0]["data"].__setitem__("start", "12"), r"task 1: no statement data"),
    (lambda e: e[0]["data"].__setitem__("end", True), r"task 1: no statement data"),
    (lambda e: e[0].__setitem__("annotations", {"id": 1}), r"task 1: 'annotations' is not a list of objects"),
    (lambda e: e[0].__setitem__("annotations", ["x"]), r"task 1: 'annotations' is not a list of objects"),
    (lambda e: e[0]["annotations"][0].__setitem__("result", "neutral"), r"task 1: an annotation's result is not"),
    (lambda e: e[0]["annotations"][0].__setitem__("result", [3]), r"task 1: an annotation's result is not"),
])
def test_a_malformed_task_is_one_error_not_a_traceback(made, tmp_path, mangle, message):
    statements, task_list = made
    exported = [answered(t, k) for k, t in enumerate(task_list, start=1)]
    mangle(exported)
    with pytest.raises(StanceError, match=rf"export\.json: {message}"):
        import_export(write(tmp_path, exported), "tester", statements=statements)


def test_an_export_that_is_not_a_json_file_is_one_error(tmp_path):
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(StanceError, match=r"folder\.json: export file not found"):
        import_export(tmp_path / "folder.json", "tester")
    (tmp_path / "latin.json").write_bytes(b'[{"data": "caf\xe9"}]')
    with pytest.raises(StanceError, match=r"latin\.json:1: not valid UTF-8"):
        import_export(tmp_path / "latin.json", "tester")
