"""Old home of ``StaticEmbedder``, kept so models saved before the ``serving/model/`` move still load.

skops stores class paths, and models trained before the move name ``serving.features.StaticEmbedder``.
New code imports ``serving.model.features``.
"""

from serving.model.features import StaticEmbedder  # noqa: F401
