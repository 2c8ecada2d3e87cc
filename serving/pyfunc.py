"""Old home of the MLflow model class, kept so models registered before the ``serving/model/`` move still load.

The code file logged with those models runs ``from serving.pyfunc import TriageModel``.
New code imports ``serving.model.pyfunc``.
"""

from serving.model.pyfunc import TriageModel  # noqa: F401
