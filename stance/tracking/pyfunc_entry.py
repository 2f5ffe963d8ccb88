"""The pyfunc model's code file ("models from code"): MLflow copies this file into the
logged model and runs it on load, instead of unpickling a Python object."""

import mlflow

from stance.tracking.pyfunc import StancePyfunc

mlflow.models.set_model(StancePyfunc())
