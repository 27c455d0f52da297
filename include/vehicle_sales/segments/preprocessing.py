"""Preprocessing of the RFM values (as in the original notebook), a scikit-learn Pipeline.

``recency_days -> -sqrt(recency_days)`` (higher is better), ``frequency -> log1p``,
``monetary -> log1p``, then scikit-learn's ``RobustScaler`` (median / IQR: the spend distribution of
a wholesaler is very skewed and a few huge accounts must not set the scale).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler

__all__ = ["FEATURE_NAMES_OUT", "RFM_COLUMNS", "RFMTransformer", "check_rfm", "make_preprocessor"]

RFM_COLUMNS: tuple[str, str, str] = ("recency_days", "frequency", "monetary")
FEATURE_NAMES_OUT: tuple[str, str, str] = ("recency_neg_sqrt", "frequency_log1p", "monetary_log1p")


def check_rfm(X: Any) -> np.ndarray:
    """(n, 3) float64 from a DataFrame (columns by name, else the 3 columns in order) or an array."""
    if isinstance(X, pd.DataFrame):
        if all(c in X.columns for c in RFM_COLUMNS):
            X = X[list(RFM_COLUMNS)]
        elif X.shape[1] != 3:
            missing = [c for c in RFM_COLUMNS if c not in X.columns]
            raise ValueError(f"RFM input needs the columns {list(RFM_COLUMNS)} (missing: {missing})")
        try:
            arr = X.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"RFM values must be numeric: {exc}") from exc
    else:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"RFM values must be numeric: {exc}") from exc
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"RFM input must be 2-D with 3 columns {list(RFM_COLUMNS)}, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("RFM input has no rows")
    bad = ~np.isfinite(arr)
    if bad.any():
        detail = ", ".join(f"{c}: {int(n)}" for c, n in zip(RFM_COLUMNS, bad.sum(axis=0), strict=True) if n)
        raise ValueError(f"RFM values must be finite (missing/NaN/inf found -- {detail})")
    neg = arr < 0
    if neg.any():
        detail = ", ".join(
            f"{c}: {int(n)} (min {arr[:, j].min():g})"
            for j, (c, n) in enumerate(zip(RFM_COLUMNS, neg.sum(axis=0), strict=True))
            if n
        )
        raise ValueError(f"RFM values must be non-negative (negative values -- {detail})")
    return arr


class RFMTransformer(TransformerMixin, BaseEstimator):
    """(recency_days, frequency, monetary) -> (-sqrt(recency), log1p(frequency), log1p(monetary)).

    Stateless. Accepts a DataFrame (the three columns by name, other columns ignored; or exactly
    three columns in that order) or an (n, 3) array. Raises ``ValueError`` on missing, non-finite,
    negative or non-numeric values.
    """

    def fit(self, X, y=None):
        check_rfm(X)
        self.n_features_in_ = 3
        return self

    def transform(self, X):
        arr = check_rfm(X)
        return np.column_stack([-np.sqrt(arr[:, 0]), np.log1p(arr[:, 1]), np.log1p(arr[:, 2])])

    def get_feature_names_out(self, input_features=None):
        return np.asarray(FEATURE_NAMES_OUT, dtype=object)


def make_preprocessor() -> Pipeline:
    """The notebook's preprocessing: RFM transform then RobustScaler."""
    return Pipeline([("rfm", RFMTransformer()), ("scale", RobustScaler())])
