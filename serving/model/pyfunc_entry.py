"""MLflow models-from-code entry: logging this file instead of a pickled object keeps the model pickle-free."""

import mlflow

from serving.model.pyfunc import TriageModel

mlflow.models.set_model(TriageModel())
