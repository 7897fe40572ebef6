"""leadflow: an open-source lead qualification engine.

The public Python API a data engineer calls lives in :mod:`leadflow.api` (``import leadflow.api as lf``).
"""

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy, so `import leadflow.core` stays light
    if name == "Leadflow":
        from leadflow.facade import Leadflow

        return Leadflow
    raise AttributeError(name)
