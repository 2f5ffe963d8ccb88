"""The Label Studio round-trip: statements out as tasks (with the model's suggestions as
pre-annotations), a Label Studio JSON export back in as an annotation pass.

Nothing here talks to a server: ``stance labelstudio export`` writes a labelling config and a
tasks file to import in Label Studio's interface or API; ``stance labelstudio import`` reads the
JSON export (Project > Export > JSON) into records that ``stance annotations validate``,
``agreement`` and ``adjudicate`` accept.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.labels import LABEL_HINTS, LABELS

#: Control names in the labelling config (the export refers to them).
CHOICE, HOLDER, RATIONALE, TEXT = "stance", "holder", "rationale", "text"
#: Characters of article shown on each side of a statement, widened to whole paragraphs.
CONTEXT = 400


def labelling_config(target: str) -> str:
    """Label Studio's XML: the statement, its article context, three choices with the spec's
    definitions as hints, the holder and a one-line rationale."""
    choices = "\n".join(f'    <Choice value="{label}" hint="{html.escape(LABEL_HINTS[label], quote=True)}"/>'
                        for label in LABELS)
    return f"""<View>
  <Header value="Stance toward: {html.escape(target, quote=True)}"/>
  <Text name="{TEXT}" value="$text"/>
  <Choices name="{CHOICE}" toName="{TEXT}" choice="single" showInline="true" required="true">
{choices}
  </Choices>
  <Header value="Holder (whose stance; 'author' when the article speaks for itself)" size="6"/>
  <TextArea name="{HOLDER}" toName="{TEXT}" maxSubmissions="1" rows="1" required="true" editable="true"/>
  <Header value="Rationale (one line, cite the rule)" size="6"/>
  <TextArea name="{RATIONALE}" toName="{TEXT}" maxSubmissions="1" rows="1" editable="true"/>
  <Header value="In its article" size="6"/>
  <HyperText name="context" value="$context"/>
</View>
"""


def context_html(article: str, start: int, end: int, width: int = CONTEXT) -> str:
    """The paragraphs around ``article[start:end]``, escaped, with the statement marked."""
    left = article.rfind("\n\n", 0, max(0, start - width))
    right = article.find("\n\n", min(len(article), end + width))
    left = 0 if left < 0 else left + 2
    right = len(article) if right < 0 else right
    before, statement, after = article[left:start], article[start:end], article[end:right]
    body = f"{html.escape(before)}<mark><b>{html.escape(statement)}</b></mark>{html.escape(after)}"
    return "<div style='white-space: pre-wrap'>" + body + "</div>"


def tasks(statements: list[dict[str, Any]], seeds_dir: str | Path, predictions: list[dict[str, Any]] | None = None,
          model_version: str = "") -> list[dict[str, Any]]:
    """Import-ready tasks: one per statement, in its article's context, with the prediction
    (label and confidence) as a pre-annotation when given."""
    seeds_dir = Path(seeds_dir)
    articles: dict[str, str] = {}
    out = []
    for k, record in enumerate(statements):
        document = record["document"]
        if document not in articles:
            path = seeds_dir / f"{document}.txt"
            if not path.is_file():
                raise StanceError(f"statement {record['id']}: article '{document}' not found in {seeds_dir}")
            articles[document] = path.read_text(encoding="utf-8")
        data = {key: record[key] for key in ("id", "document", "start", "end", "text", "target")}
        data["context"] = context_html(articles[document], record["start"], record["end"])
        task: dict[str, Any] = {"data": data}
        if predictions is not None:
            predicted = predictions[k]
            task["predictions"] = [{"model_version": model_version, "score": round(float(predicted["confidence"]), 4),
                                    "result": [{"from_name": CHOICE, "to_name": TEXT, "type": "choices",
                                                "value": {"choices": [predicted["label"]]}}]}]
        out.append(task)
    return out


def _answer(result: Any, where: str, path: Path) -> tuple[str | None, str, str]:
    if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
        raise StanceError(f"{where}: an annotation's result is not a list of objects", path=path)
    label, holder, rationale = None, "", ""
    for item in result:
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        texts = value.get("text") if isinstance(value.get("text"), list) else []
        if item.get("from_name") == CHOICE and isinstance(value.get("choices"), list) and value["choices"]:
            label = value["choices"][0]
        elif item.get("from_name") == HOLDER and texts:
            holder = " ".join(str(t) for t in texts).strip()
        elif item.get("from_name") == RATIONALE and texts:
            rationale = " ".join(str(t) for t in texts).strip()
    return label, holder, rationale


def _by(annotation: dict[str, Any], user: int | str | None) -> bool:
    author = annotation.get("completed_by")
    return user is None or str(author) == str(user) or (
        isinstance(author, dict) and str(user) in (str(author.get("id")), author.get("email")))


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _read_export(path: Path) -> list:
    from stance.io import read_text

    try:
        exported = json.loads(read_text(path, "export file"))
    except json.JSONDecodeError as exc:
        raise StanceError(f"not a Label Studio JSON export ({exc.msg})", path=path, line=exc.lineno) from None
    if not isinstance(exported, list):
        raise StanceError("not a Label Studio JSON export (expected a list of tasks)", path=path)
    return exported


def _statement(data: Any, where: str, path: Path, known: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The statement a task shows: checked against ``known`` (id -> statement) when given."""
    fields = {"id": str, "document": str, "start": int, "end": int, "text": str}
    if not isinstance(data, dict) or any(not isinstance(data.get(k), t) or isinstance(data.get(k), bool)
                                         for k, t in fields.items()):
        raise StanceError(f"{where}: no statement data (was it exported by stance labelstudio export?)", path=path)
    statement = {k: data[k] for k in fields} | {"target": data["target"] if isinstance(data.get("target"), str) else ""}
    if known is None:
        return statement
    if data["id"] not in known:
        raise StanceError(f"{where}: statement '{data['id']}' is not one of the statements given", path=path)
    expected = known[data["id"]]
    if any(expected.get(k) != statement[k] for k in fields):
        raise StanceError(f"{where}: statement '{data['id']}' differs from the one given (span or text changed)",
                          path=path)
    return {k: expected[k] for k in fields} | {"target": expected.get("target", statement["target"])}


def import_export(path: str | Path, annotator: str, user: int | str | None = None,
                  statements: list[dict[str, Any]] | None = None) -> tuple[list[dict], int]:
    """Annotation records from a Label Studio JSON export, and how many tasks had no answer.

    Each task's latest submitted (not cancelled) annotation is used; ``user`` keeps only the
    annotations of that Label Studio user (id or e-mail), for an export holding several. With
    ``statements``, every task must show one of them, unchanged (an export of other or
    re-segmented statements is an error), and no statement may be in two tasks.
    """
    path = Path(path)
    if not annotator.strip():
        raise StanceError("--annotator must name the annotator")
    known = None if statements is None else {s["id"]: s for s in statements}
    exported = _read_export(path)
    records, unanswered, seen = [], 0, {}
    for number, task in enumerate(exported, start=1):
        where = f"task {task.get('id', number) if isinstance(task, dict) else number}"
        if not isinstance(task, dict):
            raise StanceError(f"{where}: not a task object", path=path)
        statement = _statement(task.get("data"), where, path, known)
        if statement["id"] in seen:
            raise StanceError(f"{where}: statement '{statement['id']}' is also in {seen[statement['id']]}", path=path)
        seen[statement["id"]] = where
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise StanceError(f"{where}: 'annotations' is not a list of objects", path=path)
        answers = [a for a in annotations if not a.get("was_cancelled") and _by(a, user)]
        if not answers:
            unanswered += 1
            continue
        latest = max(answers, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""),
                                             _number(a.get("id"))))
        label, holder, rationale = _answer(latest.get("result") or [], where, path)
        if label not in LABELS:
            raise StanceError(f"{where} (statement {statement['id']}): no stance choice in the annotation", path=path)
        if not holder:
            raise StanceError(f"{where} (statement {statement['id']}): the holder is empty", path=path)
        records.append({**statement, "label": label, "holder": holder, "annotator": annotator, "rationale": rationale})
    if not records:
        raise StanceError(f"no answered tasks in the export ({unanswered} without an annotation)", path=path)
    return records, unanswered
