"""Small MLflow models with the 20-feature signature, for endpoint tests.

The real model comes from train2.py/train.py; these stand in for it so the endpoint
tests do not depend on training. ``kind`` selects a healthy or deliberately broken model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from taxi_fare.schema import FEATURES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "requests"


def feature_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Plausible NYC trips in the 20-feature layout."""
    rng = np.random.default_rng(seed)
    hour = rng.integers(0, 24, rows)
    frame = pd.DataFrame(
        {
            "distance": rng.gamma(2.0, 1.6, rows).round(2),
            "dropoff_latitude": rng.uniform(40.60, 40.85, rows),
            "dropoff_longitude": rng.uniform(-74.02, -73.80, rows),
            "passengers": rng.integers(1, 5, rows),
            "pickup_latitude": rng.uniform(40.60, 40.85, rows),
            "pickup_longitude": rng.uniform(-74.02, -73.80, rows),
            "store_forward": rng.integers(0, 2, rows),
            "vendor": rng.integers(1, 3, rows),
            "pickup_weekday": rng.integers(0, 7, rows),
            "pickup_month": rng.integers(1, 13, rows),
            "pickup_monthday": rng.integers(1, 29, rows),
            "pickup_hour": hour,
            "pickup_minute": rng.integers(0, 60, rows),
            "pickup_second": rng.integers(0, 60, rows),
            "dropoff_weekday": rng.integers(0, 7, rows),
            "dropoff_month": rng.integers(1, 13, rows),
            "dropoff_monthday": rng.integers(1, 29, rows),
            "dropoff_hour": (hour + rng.integers(0, 2, rows)) % 24,
            "dropoff_minute": rng.integers(0, 60, rows),
            "dropoff_second": rng.integers(0, 60, rows),
        }
    )
    return frame[list(FEATURES)].astype("float64")


def save_model(path: Path, kind: str = "good", seed: int = 0) -> Path:
    """Save an sklearn Pipeline as an MLflow model under ``path``.

    kind: ``good`` (cost ~ 3 + 2.5 * distance), ``nan`` (predicts NaN),
    ``raises`` (predict raises), ``shifted`` (a second healthy version, +1 USD).
    """
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x = feature_frame(400, seed)
    offset = 4.0 if kind == "shifted" else 3.0
    y = offset + 2.5 * x["distance"] + 0.1 * x["passengers"]
    pipe = Pipeline([("scale", StandardScaler()), ("reg", Ridge(alpha=1e-3))]).fit(x, y)
    reg = pipe.named_steps["reg"]
    if kind == "nan":
        reg.coef_ = reg.coef_.copy()
        reg.coef_[0] = np.nan
    elif kind == "raises":
        reg.coef_ = np.zeros(3)  # wrong width: matmul fails at predict time
    elif kind not in ("good", "shifted"):
        raise ValueError(f"unknown model kind {kind!r}")
    signature = infer_signature(x, np.zeros(len(x)))
    # Explicit requirements: inferring them starts a subprocess that costs seconds per model.
    mlflow.sklearn.save_model(
        pipe,
        str(path),
        signature=signature,
        serialization_format="cloudpickle",
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"],
    )
    return path
