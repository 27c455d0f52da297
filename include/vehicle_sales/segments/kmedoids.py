"""K-Medoids, the estimator of the segmentation: :class:`KMedoidsPAM` on the ``kmedoids`` package's
Rust PAM and FasterPAM swaps, with CLARA for large populations. Pure numpy/scikit-learn.

The loss is the K-Medoids objective: the sum over all customers of the distance to the nearest
medoid. Which algorithm runs depends on n (``method="auto"``):

* ``n <= exact_max_n`` (500): the full n x n matrix in float64 and the exact PAM SWAP
  (``kmedoids.pam``: steepest descent, best swap per iteration) from ``n_init`` (10) k-medoids++
  (or random) starts, plus one classic BUILD start (``build_safeguard``), keeping the lowest loss.
  Including BUILD+SWAP among the candidates makes "never worse than classic PAM" a guarantee, not a
  likelihood. Small populations (the bundled sample, a real wholesaler's few hundred customers) get
  exactly the results of every earlier version.
* ``exact_max_n < n <= clara_threshold`` (10,000): the full matrix in int32 (fixed point: the
  distances scaled to at most 2^30 and rounded; see :func:`distance_matrix`) and FasterPAM
  (``kmedoids.fasterpam``: the same swap neighbourhood as PAM, eager swaps, O(k) faster per
  iteration) from one k-medoids++ start (``n_init="auto"``), its processing order shuffled by that
  start's seed, then ``scouts`` (8) cheap CLARA-style scouts: FasterPAM on a random sample of 500
  customers (n / 2 below 1,000), the scout's medoids scored on *all* customers in O(n*k). A scout that beats the best
  full-matrix run is polished by FasterPAM on the full matrix (from the scout's medoids) and kept if
  it stays better. One full run costs two or three passes over the matrix; a scout costs about a
  tenth of a pass, so the scouts are what lets one full run escape a poor local optimum (measured:
  a first start 1.9 % above the best loss at 10,000 customers, fixed by a scout) without paying for
  ten full restarts.
* ``n > clara_threshold``: CLARA. ``clara_samples`` random samples of ``clara_sample_size``
  customers (each sample also contains the best medoids found so far, as in Kaufman & Rousseeuw's
  CLARA); FasterPAM on each sample's small matrix; each candidate medoid set is scored on *all*
  customers in O(n*k) chunks (the n x n matrix is never built); the best set wins and one
  assignment pass labels everybody. Default sample size: ``min(n, max(40 + 2k, 2000))`` --
  CLARA's classic 40 + 2k is far too small for FasterPAM, which clusters 2,000 points (a 16 MB
  float32 matrix) in milliseconds; together with carrying the best medoids into every sample, ten
  samples land within a fraction of a percent of FasterPAM on the full matrix (see the tests).

The swaps read the matrix through its transpose (``D.T``, a free Fortran-order view of the
symmetric matrix): the ``kmedoids`` loops walk it column-wise and run about twice as fast that way
(measured: 0.18 s against 0.09 s per FasterPAM run at 3,000 customers).

Why ``clara_threshold = 10,000`` (not 20,000): the int32 n x n matrix is 4 n^2 bytes -- 400 MB
at 10k, 1.6 GB at 20k -- too close to a 2 GB worker. Above 10k, CLARA is far cheaper (100k
customers: ~2 s, ~0.25 GB) and, measured on 10k customers, within 0.01 % of FasterPAM on the full
matrix. Why ``exact_max_n = 500``: exact PAM costs a full pass over the matrix per swap (k + a
few per run) and ten restarts: 0.2 s at 500 customers, 0.85 s at 1,000 (FasterPAM with its
scouts: 0.02 s, same loss), ~15 s at 3,000 (0.16 s, lower loss; ``make bench``).
Distances to medoids (loss, labels, predict) are always recomputed in float64.

Determinism: every random choice derives from ``random_state`` (restart seeds, shuffles, scout and
CLARA samples); FasterPAM runs single-threaded (its multi-threaded variant is not reproducible) --
the same data and ``random_state`` give the same medoids, labels and names.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import kmedoids
import numpy as np
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "INITS",
    "METHODS",
    "METRICS",
    "KMedoidsPAM",
    "assign_to_medoids",
    "distance_matrix",
    "fixed_point_scale",
    "kmedoids_plusplus",
    "pairwise",
]

METRICS: tuple[str, ...] = ("euclidean", "manhattan", "cosine")
INITS: tuple[str, ...] = ("k-medoids++", "build", "random")
METHODS: tuple[str, ...] = ("auto", "pam", "fasterpam", "clara")
SCOUT_SAMPLE_SIZE = 500  # customers per FasterPAM scout (see the module docstring)
_ASSIGN_CHUNK = 65_536  # rows per chunk in the O(n*k) passes (distances to the medoids)
_MATRIX_BLOCK_BYTES = 2 << 20  # float64 scratch per block while filling a float32/int32 n x n matrix
_MATRIX_THREADS = 2  # threads filling it, each with its own scratch
FIXED_POINT_MAX = float(2**30)  # the largest entry of an int32 distance matrix (see fixed_point_scale)


# --------------------------------------------------------------------------- distances


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not supported; use one of {METRICS}")
    return metric


def pairwise(A: np.ndarray, B: np.ndarray | None = None, metric: str = "euclidean") -> np.ndarray:
    """Distances between the rows of A and B (B None: A with itself), float64, with
    ``sklearn.metrics.pairwise_distances``. Euclidean goes through its exact route (``minkowski``,
    p=2: direct differences) rather than the dot-product expansion, whose cancellation error
    (~1e-8) would make the distance of a medoid to itself non-zero and the loss depend on how the
    distances were batched."""
    if metric == "euclidean":
        if B is not None:  # what pairwise_distances runs for it (its checks cost a few ms on first use)
            return cdist(np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64), "minkowski", p=2)
        return pairwise_distances(A, B, metric="minkowski", p=2)
    return pairwise_distances(A, B, metric=metric)


def _to_medoids(X: np.ndarray, centers: np.ndarray, metric: str, chunk: int = _ASSIGN_CHUNK):
    """Yield (start, (rows, k) float64 distances to the centers) chunk by chunk: O(chunk * k) memory."""
    for start in range(0, X.shape[0], chunk):
        yield start, pairwise(X[start : start + chunk], centers, metric)


def assign_to_medoids(X: np.ndarray, centers: np.ndarray, metric: str) -> tuple[np.ndarray, float]:
    """Labels (index of the nearest center, first on ties) and the loss (sum of those distances)."""
    labels = np.empty(X.shape[0], dtype=np.intp)
    loss = 0.0
    for start, d in _to_medoids(X, centers, metric):
        lab = d.argmin(axis=1)
        labels[start : start + d.shape[0]] = lab
        loss += float(d[np.arange(d.shape[0]), lab].sum())
    return labels, loss


def loss_to_medoids(X: np.ndarray, centers: np.ndarray, metric: str) -> float:
    return float(sum(d.min(axis=1).sum() for _, d in _to_medoids(X, centers, metric)))


def fixed_point_scale(X: np.ndarray, metric: str) -> float:
    """Units per unit of distance in an int32 (fixed-point) distance matrix of X: ``FIXED_POINT_MAX``
    over a bound on every distance between rows of X (the diagonal of their bounding box for
    euclidean, the sum of its sides for manhattan, 2 for cosine). Every entry is then at most
    ``FIXED_POINT_MAX`` (2^30): any difference of two entries fits an int32, and ``kmedoids`` sums
    them in int64. The resolution is 2^-30 of that bound (about a nanometre on a kilometre), finer
    than float32 for every distance above 1/32 of it."""
    X = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        bound = 2.0
    else:
        span = X.max(axis=0) - X.min(axis=0) if X.shape[0] else np.zeros(X.shape[1])
        top = float(span.max(initial=0.0))
        if top == 0.0:  # one distinct point: every distance is 0, any scale will do
            return 1.0
        rel = span / top  # no overflow for huge values
        bound = top * (float(np.sqrt((rel * rel).sum())) if metric == "euclidean" else float(rel.sum()))
        if not np.isfinite(bound * bound):  # cdist sums squares: some distances would be inf
            raise ValueError(
                f"coordinates too far apart for {metric} distances in float64 (bound {bound:.3g})"
            )
    return FIXED_POINT_MAX / bound


def distance_matrix(X: np.ndarray, metric: str, dtype=np.float64) -> np.ndarray:
    """The full n x n distance matrix in float64, float32 or int32 (fixed point: the distances times
    :func:`fixed_point_scale`, rounded). float32 and int32 are filled block by block (no float64
    n x n copy). Euclidean blocks go through a reused float64 scratch buffer (``cdist(..., out=)``,
    the same kernel as :func:`pairwise`): a fresh buffer per block costs a page fault per page on
    every block, which dominated the build on the 2-core reference machine. Two threads take the
    blocks in turn, each with its own scratch (cdist lets go of the GIL): 0.15 s instead of 0.25 s
    at 10,000 customers, the same values. Blocks of 2 MB rather than 8: the scratch stays in cache
    while it is scaled and cast, and the blocks split evenly between the threads (at 3,000
    customers 35 blocks instead of 9; median of ten fresh processes 0.021 s instead of 0.034 s).

    Why int32 for the swaps: the ``kmedoids`` loops compare and add integers faster than floats
    (FasterPAM: 25 % less time at 3,000 customers), the sums are exact (int64), and the swaps only
    compare sums of distances, which a common scale leaves unchanged; the silhouette, a ratio of
    mean distances, does not depend on the scale either."""
    n = X.shape[0]
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return np.ascontiguousarray(pairwise(X, None, metric), dtype=np.float64)
    if dtype not in (np.dtype(np.float32), np.dtype(np.int32)):
        raise ValueError(f"dtype must be float64, float32 or int32, got {dtype}")
    scale = fixed_point_scale(X, metric) if dtype == np.int32 else None
    D = np.empty((n, n), dtype=dtype)
    block = max(1, _MATRIX_BLOCK_BYTES // (8 * max(n, 1)))
    X = np.ascontiguousarray(X, dtype=np.float64)
    starts = range(0, n, block)

    def fill(my_starts: range) -> None:  # these blocks, through one scratch buffer
        scratch = np.empty((min(block, n), n), dtype=np.float64) if metric == "euclidean" else None
        for start in my_starts:
            rows = X[start : start + block]
            if scratch is not None:
                out = scratch[: rows.shape[0]]
                cdist(rows, X, metric="minkowski", p=2, out=out)
            else:
                out = pairwise(rows, X, metric)
            if scale is not None:
                np.multiply(out, scale, out=out)
                np.rint(out, out=out)
            D[start : start + rows.shape[0]] = out

    if metric == "euclidean":
        # cdist and the casts let go of the GIL: the blocks are filled on two cores (each block by
        # the same call as on one: the same values)
        # (each thread takes every _MATRIX_THREADS-th block)
        with ThreadPoolExecutor(_MATRIX_THREADS) as pool:
            list(
                pool.map(fill, [starts[i::_MATRIX_THREADS] for i in range(min(_MATRIX_THREADS, len(starts)))])
            )
    else:
        fill(starts)
    np.fill_diagonal(D, 0)
    return D


# --------------------------------------------------------------------------- initialisation


def kmedoids_plusplus(
    D: np.ndarray, k: int, rng: np.random.RandomState, n_local_trials: int | None = None
) -> np.ndarray:
    """Greedy k-medoids++ seeding on a distance matrix (as k-means++: D^2 sampling, best of
    ``2 + log k`` candidates per step). Returns k distinct indices."""
    n = D.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(k))
    centers = [int(rng.randint(n))]
    closest = D[centers[0]].astype(np.float64) ** 2
    pot = closest.sum()
    for _ in range(1, k):
        if pot <= 0:  # every point coincides with a chosen medoid: any unused point will do
            unused = np.setdiff1d(np.arange(n), centers)
            centers.append(int(unused[rng.randint(unused.size)]))
            closest = np.minimum(closest, D[centers[-1]].astype(np.float64) ** 2)
            pot = closest.sum()
            continue
        cand = np.searchsorted(np.cumsum(closest), rng.random_sample(n_local_trials) * pot, side="right")
        cand = np.unique(np.clip(cand, 0, n - 1))
        cand = cand[closest[cand] > 0] if (closest[cand] > 0).any() else cand
        cand_closest = np.minimum(closest, D[cand].astype(np.float64) ** 2)
        pots = cand_closest.sum(axis=1)
        best = int(pots.argmin())
        centers.append(int(cand[best]))
        closest, pot = cand_closest[best], pots[best]
    out = np.asarray(centers, dtype=np.intp)
    if np.unique(out).size < k:  # only possible with fewer distinct points than k
        rest = np.setdiff1d(np.arange(n), out)[: k - np.unique(out).size]
        out = np.concatenate([np.unique(out), rest])
    return out


def _initial_medoids(D: np.ndarray, k: int, init: str, rng: np.random.RandomState) -> np.ndarray:
    if init == "k-medoids++":
        return kmedoids_plusplus(D, k, rng)
    if init == "random":
        return rng.choice(D.shape[0], k, replace=False).astype(np.intp)
    if init == "build":
        return np.asarray(kmedoids.pam_build(D, k).medoids, dtype=np.intp)
    raise ValueError(f"init={init!r} is not supported; use one of {INITS}")


def _matrix_loss(D: np.ndarray, medoids: np.ndarray) -> float:
    """The loss of a medoid set read from the full matrix D (summed in float64)."""
    return float(D[:, medoids].min(axis=1).sum(dtype=np.float64))


def _swap(D: np.ndarray, medoids: np.ndarray, algo: str, max_iter: int, shuffle: int | None = None):
    """Run PAM SWAP or FasterPAM from the given medoids on the symmetric matrix D; returns (medoids,
    n_iter). The swaps read ``D.T`` (column-wise walks, twice as fast; same values). ``shuffle``: a
    seed for FasterPAM's processing order (None: in order); both are deterministic."""
    start = np.ascontiguousarray(medoids, dtype=np.uintp)
    if algo == "pam":
        res = kmedoids.pam(D.T, start, max_iter=max_iter)
    elif shuffle is None:  # single-threaded and unshuffled: reproducible
        res = kmedoids.fasterpam(D.T, start, max_iter=max_iter, random_state=None, n_cpu=1)
    else:  # single-threaded, shuffled by a fixed seed: reproducible
        with warnings.catch_warnings():  # "Seed will be ignored": it is not, it orders the swaps
            warnings.simplefilter("ignore", UserWarning)
            res = kmedoids.fasterpam(D.T, start, max_iter=max_iter, random_state=int(shuffle), n_cpu=1)
    return np.asarray(res.medoids, dtype=np.intp), int(res.n_iter or 0)


# --------------------------------------------------------------------------- estimator


class KMedoidsPAM(ClusterMixin, BaseEstimator):
    """K-Medoids with PAM / FasterPAM swaps on a full distance matrix, CLARA above ``clara_threshold``.

    The loss minimised is the sum over all samples of the distance to the nearest medoid. See the
    module docstring for which algorithm runs at which size.

    Parameters
    ----------
    n_clusters : int, default=3
        Number of clusters (medoids).
    metric : {"euclidean", "manhattan", "cosine"}, default="euclidean"
        Distance between samples.
    init : {"k-medoids++", "build", "random"}, default="k-medoids++"
        How each run's starting medoids are chosen. "build" is PAM's deterministic BUILD and runs once.
    n_init : int or "auto", default="auto"
        Full-matrix restarts for "k-medoids++" and "random"; the run with the lowest loss wins.
        "auto": 10 under exact PAM, 1 under FasterPAM (whose scouts stand in for more restarts).
    method : {"auto", "pam", "fasterpam", "clara"}, default="auto"
        "auto": exact PAM up to ``exact_max_n`` samples, FasterPAM (with scouts) up to
        ``clara_threshold``, CLARA above. "clara" forces CLARA; above ``clara_threshold`` CLARA runs whatever the method.
    max_iter : int, default=300
        Maximum swap iterations per run.
    random_state : int, RandomState instance or None, default=0
        Seeds every random choice (restart seeds, shuffles, scout and CLARA samples): same data
        and seed, same result.
    exact_max_n : int, default=500
        Largest n for exact PAM under ``method="auto"`` (float64 matrix); FasterPAM above (int32, fixed point).
    clara_threshold : int, default=10000
        Above this many samples, CLARA: the n x n matrix is never built.
    clara_samples : int, default=10
        Number of CLARA samples.
    clara_sample_size : int or None, default=None
        Samples per CLARA draw; None: ``min(n, max(40 + 2k, 2000))``.
    build_safeguard : bool, default=True
        Exact PAM runs from "k-medoids++"/"random" starts also try one BUILD start, so the result is
        never worse than classic BUILD+SWAP PAM. Model selection switches it off to compare the
        inits as they are. (FasterPAM runs rely on their scouts instead: BUILD alone costs as much
        as a FasterPAM run.)
    scouts : int, default=8
        FasterPAM scouts after the full-matrix runs under ``method="auto"``: FasterPAM on a random
        sample of ``SCOUT_SAMPLE_SIZE`` customers (n // 2 when smaller), scored on all customers;
        one that beats the best run is polished on the full matrix. 0: none.

    Attributes
    ----------
    medoid_indices_ : ndarray of shape (n_clusters,)
        Rows of X that are the medoids, ascending.
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The medoids themselves.
    labels_ : ndarray of shape (n_samples,)
        Index of each sample's nearest medoid (the first on ties).
    inertia_ : float
        The loss: sum of the distances to the nearest medoid, in float64.
    n_iter_ : int
        Swap iterations of the winning run.
    method_used_ : {"pam", "fasterpam", "clara"}
        The algorithm that ran.
    sample_size_ : int or None
        Samples per CLARA draw when CLARA ran, else None.
    n_features_in_ : int
        Number of features seen during fit.
    """

    def __init__(
        self,
        n_clusters=3,
        metric="euclidean",
        init="k-medoids++",
        n_init="auto",
        method="auto",
        max_iter=300,
        random_state=0,
        exact_max_n=500,
        clara_threshold=10000,
        clara_samples=10,
        clara_sample_size=None,
        build_safeguard=True,
        scouts=8,
    ):
        self.n_clusters = n_clusters
        self.metric = metric
        self.init = init
        self.n_init = n_init
        self.method = method
        self.max_iter = max_iter
        self.random_state = random_state
        self.exact_max_n = exact_max_n
        self.clara_threshold = clara_threshold
        self.clara_samples = clara_samples
        self.clara_sample_size = clara_sample_size
        self.build_safeguard = build_safeguard
        self.scouts = scouts

    # -- public helpers
    def method_for(self, n_samples: int) -> str:
        """The algorithm ``fit`` runs for ``n_samples``: "pam", "fasterpam" or "clara"."""
        if self.method == "clara" or n_samples > self.clara_threshold:
            return "clara"
        if self.method in ("pam", "fasterpam"):
            return self.method
        return "pam" if n_samples <= self.exact_max_n else "fasterpam"

    def matrix_dtype_for(self, n_samples: int):
        """The dtype of the full distance matrix ``fit`` builds for ``n_samples``: float64 up to
        ``exact_max_n`` (exact PAM, the results of every earlier version); int32 above (fixed point,
        see :func:`distance_matrix`: half the memory of float64, and FasterPAM runs faster on it)."""
        return np.float64 if n_samples <= self.exact_max_n else np.int32

    # -- fitting
    def fit(self, X, y=None, distances=None):
        """Fit the medoids.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples (finite values).
        y : Ignored
        distances : ndarray of shape (n_samples, n_samples), default=None
            X's full distance matrix in ``metric``, when the caller has it already (model selection
            fits many models on one matrix; see :func:`distance_matrix`). The swaps run on it
            (FasterPAM when the size calls for CLARA); labels and the loss are recomputed from X in
            float64 as always.

        Returns
        -------
        self : KMedoidsPAM
            The fitted estimator.
        """
        X = self._validate(X)
        plan = self.method_for(X.shape[0])
        if distances is not None:
            D = np.asarray(distances)
            if D.shape != (X.shape[0], X.shape[0]):
                raise ValueError(f"distances must have shape {(X.shape[0], X.shape[0])}, got {D.shape}")
            return self._fit_matrix(X, D, "fasterpam" if plan == "clara" else plan)
        if plan == "clara":
            return self._fit_clara(X)
        return self._fit_matrix(X, distance_matrix(X, self.metric, self.matrix_dtype_for(X.shape[0])), plan)

    def predict(self, X):
        """Index (0..k-1) of the nearest medoid of each row of X, in O(n*k) memory-bounded chunks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "cluster_centers_")
        X = np.asarray(X, dtype=np.float64)
        return assign_to_medoids(X, self.cluster_centers_, self.metric)[0]

    # -- internals
    def _validate(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X has non-finite values")
        _check_metric(self.metric)
        if self.init not in INITS:
            raise ValueError(f"init={self.init!r} is not supported; use one of {INITS}")
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is not supported; use one of {METHODS}")
        k = int(self.n_clusters)
        if k < 1:
            raise ValueError(f"n_clusters must be >= 1, got {self.n_clusters}")
        if X.shape[0] < k:
            raise ValueError(f"n_clusters={k} needs at least {k} samples, got {X.shape[0]}")
        if self.n_init != "auto" and (isinstance(self.n_init, str) or int(self.n_init) < 1):
            raise ValueError(f"n_init must be 'auto' or >= 1, got {self.n_init!r}")
        if int(self.scouts) < 0:
            raise ValueError(f"scouts must be >= 0, got {self.scouts}")
        return X

    def _clara_sample_size(self, n: int) -> int:
        k = int(self.n_clusters)
        size = self.clara_sample_size or max(40 + 2 * k, 2000)
        return int(min(n, max(size, k)))

    def n_init_for(self, algo: str) -> int:
        """Full-matrix restarts under ``algo``: ``n_init``, or for "auto" 10 (PAM) / 1 (FasterPAM)."""
        if self.n_init == "auto":
            return 10 if algo == "pam" else 1
        return int(self.n_init)

    def _starts(self, algo: str) -> list[tuple[str, int | None]]:
        """(init, seed) of every run: the seeded restarts, or one BUILD."""
        if self.init == "build":
            return [("build", None)]
        seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=self.n_init_for(algo))
        return [(self.init, int(s)) for s in seeds]

    def _finish(
        self,
        X: np.ndarray,
        medoids: np.ndarray,
        n_iter: int,
        method_used: str,
        sample_size: int | None = None,
    ):
        medoids = np.sort(np.asarray(medoids, dtype=np.intp))
        self.medoid_indices_ = medoids
        self.cluster_centers_ = X[medoids].copy()
        self.labels_, self.inertia_ = assign_to_medoids(X, self.cluster_centers_, self.metric)
        self.n_iter_ = int(n_iter)
        self.method_used_ = method_used
        self.sample_size_ = sample_size
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_matrix(self, X: np.ndarray, D: np.ndarray, algo: str):
        """Best of the runs (starts) of ``algo`` ("pam" | "fasterpam") on the full matrix D, then,
        under FasterPAM, the scouts."""
        k = int(self.n_clusters)
        starts = self._starts(algo)
        if algo == "pam" and self.build_safeguard and self.init != "build":
            starts.append(("build", None))
        # FasterPAM's processing order is shuffled per start under method="auto" (one fixed seed
        # per start); an explicit method="fasterpam" keeps the order (model selection's results)
        shuffled = algo == "fasterpam" and self.method == "auto"
        best = None
        for init, seed in starts:
            rng = check_random_state(seed)
            med, n_iter = _swap(
                D, _initial_medoids(D, k, init, rng), algo, int(self.max_iter), seed if shuffled else None
            )
            loss = _matrix_loss(D, med)
            if best is None or loss < best[0]:
                best = (loss, med, n_iter)
        if shuffled and int(self.scouts) and X.shape[0] // 2 > k:
            best = self._scout(D, best)
        return self._finish(X, best[1], best[2], algo)

    def _scout(self, D: np.ndarray, best: tuple[float, np.ndarray, int]):
        """FasterPAM on ``scouts`` random samples of D; a scout whose medoids beat ``best`` on all
        customers (scored from D, like the runs) is polished on the full matrix and kept if better."""
        n, k = D.shape[0], int(self.n_clusters)
        rs = check_random_state(self.random_state)
        rs.randint(0, 2**31 - 1, size=self.n_init_for("fasterpam"))  # the seeds the starts took
        seeds = rs.randint(0, 2**31 - 1, size=(int(self.scouts), 2))
        size = min(SCOUT_SAMPLE_SIZE, n // 2)
        for sample_seed, init_seed in seeds:
            idx = np.sort(check_random_state(int(sample_seed)).choice(n, size, replace=False))
            Ds = D[np.ix_(idx, idx)]
            start = _initial_medoids(Ds, k, self.init, check_random_state(int(init_seed)))
            local, _ = _swap(Ds, start, "fasterpam", int(self.max_iter), int(init_seed))
            if _matrix_loss(D, idx[local]) >= best[0]:
                continue
            med, n_iter = _swap(D, idx[local], "fasterpam", int(self.max_iter), int(init_seed))
            loss = _matrix_loss(D, med)
            if loss < best[0]:
                best = (loss, med, n_iter)
        return best

    def _fit_clara(self, X: np.ndarray):
        n, k = X.shape[0], int(self.n_clusters)
        size = self._clara_sample_size(n)
        rs = check_random_state(self.random_state)
        sample_seeds = rs.randint(0, 2**31 - 1, size=max(1, int(self.clara_samples)))
        init_seeds = rs.randint(0, 2**31 - 1, size=sample_seeds.size)
        best = None
        for sample_seed, init_seed in zip(sample_seeds, init_seeds, strict=True):
            draw = check_random_state(int(sample_seed)).choice(n, size, replace=False)
            if best is not None:  # carry the best medoids so far into the sample (CLARA)
                draw = np.concatenate([best[1], draw[~np.isin(draw, best[1])]])[:size]
            idx = np.sort(draw)
            D = distance_matrix(X[idx], self.metric, np.float32)
            start = _initial_medoids(D, k, self.init, check_random_state(int(init_seed)))
            local, n_iter = _swap(D, start, "fasterpam", int(self.max_iter))
            med = np.sort(idx[local])
            loss = loss_to_medoids(X, X[med], self.metric)
            if best is None or loss < best[0]:
                best = (loss, med, n_iter)
        return self._finish(X, best[1], best[2], "clara", size)
