"""Fit scikit-learn-extra 0.3.0 ``KMedoids(method="pam", init="k-medoids++")`` on a .npy file of
preprocessed RFM values and print one JSON line: fit seconds (around ``fit`` only: its own distance
matrix, k-medoids++ and PAM swaps) and the loss recomputed from the medoids in float64.

Runs in the peer's own virtual environment (numpy < 2), never in .venv:
    bench/data/peer-venv/bin/python bench/peer/peer_fit.py X.npy [--random-state 0] [--n-clusters 3]
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--random-state", type=int, default=0)
    ap.add_argument("--n-clusters", type=int, default=3)
    args = ap.parse_args()

    import sklearn_extra
    from sklearn_extra.cluster import KMedoids

    X = np.load(args.path)
    km = KMedoids(
        n_clusters=args.n_clusters,
        metric="euclidean",
        method="pam",
        init="k-medoids++",
        max_iter=300,
        random_state=args.random_state,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stable_cumsum's FutureWarning, once per fit
        t0 = time.perf_counter()
        km.fit(X)
        seconds = time.perf_counter() - t0
    medoids = X[np.asarray(km.medoid_indices_)]
    loss = float(np.sqrt(((X[:, None, :] - medoids[None, :, :]) ** 2).sum(axis=2)).min(axis=1).sum())
    json.dump(
        {
            "impl": f"scikit-learn-extra {sklearn_extra.__version__} KMedoids(method='pam')",
            "numpy": np.__version__,
            "n": int(X.shape[0]),
            "seconds": seconds,
            "loss": loss,
            "n_iter": int(km.n_iter_),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
