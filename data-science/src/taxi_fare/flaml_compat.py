"""Import FLAML's AutoML in an environment without xgboost.

FLAML 2.7.0 imports xgboost unconditionally (``flaml/automl/model.py`` reads
``xgboost.__version__``; ``flaml/default/estimator.py`` subclasses its two estimators),
although it only *uses* xgboost for its xgboost learners. The pinned set leaves
xgboost out on purpose (DESIGN section 8: it pulls a 470 MB NCCL wheel), and
``models.AZURE_ALGORITHMS`` never selects an xgboost learner. So while FLAML is
imported, and only then, ``xgboost`` resolves to a module whose estimators refuse
to be used; afterwards the name is removed again, so nothing else can mistake it
for the real package. With xgboost installed, this is a plain import.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any


def _unavailable(*args: Any, **kwargs: Any) -> Any:
    raise ImportError(
        "xgboost is not installed; choose LightGBM, RandomForest or ExtremeRandomTrees"
    )


def _absent_xgboost() -> types.ModuleType:
    module = types.ModuleType("xgboost", "xgboost is not installed (see taxi_fare.flaml_compat)")
    module.__version__ = "0"
    for name in ("XGBRegressor", "XGBClassifier"):
        attributes = {m: _unavailable for m in ("__init__", "fit", "predict", "predict_proba")}
        attributes["__doc__"] = f"{name}: xgboost is not installed."
        setattr(module, name, type(name, (), attributes))
    return module


def automl_class() -> type:
    """``flaml.automl.automl.AutoML``."""
    if "flaml.automl.automl" in sys.modules or importlib.util.find_spec("xgboost") is not None:
        from flaml.automl.automl import AutoML

        return AutoML
    sys.modules["xgboost"] = _absent_xgboost()
    try:
        from flaml.automl.automl import AutoML
    finally:
        del sys.modules["xgboost"]
    return AutoML
