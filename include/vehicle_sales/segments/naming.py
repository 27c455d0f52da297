"""Name customer segments from their medoids' RFM profile (pure numpy; never from cluster numbers).

Scores
------
Each medoid is scored against the whole customer population, per dimension, with a *mid-rank
percentile*::

    p(v) = (#{population < v} + 0.5 * #{population == v}) / n

turned into a quintile score ``1 + floor(5 * p)`` (1..5). Recency is inverted (a *smaller*
``recency_days`` is better: ``p_R = 1 - p(recency)``), so 5 is always the best score. The mid-rank
keeps heavily tied columns (most B2B customers have 1-3 orders) honest: a value shared by 60 % of the
population gets the score of the middle of its block instead of the top or the bottom.

* value  = mean of the R, F and M quintile scores (1..5); ties broken by monetary, then frequency
  (higher first), then recency (lower first). Identical profiles are interchangeable.
* FM     = the combined frequency/monetary score, ``round_half_up((F + M) / 2)`` (1..5).

k = 3: the names of the original analysis
-----------------------------------------
By value, highest first: ``"Champion"``, ``"Potential Loyalist"``, ``"Hibernating"``.

Other k: the R vs FM segment grid
---------------------------------
The widely published RFM segment map (rows: recency score R, columns: combined FM score; the
usual ``[1-2][1-2] Hibernating, [1-2][3-4] At Risk, [1-2]5 Can't Lose Them, 3[1-2] About to Sleep,
33 Need Attention, [3-4][4-5] Loyal Customers, 41 Promising, 51 New Customers, [4-5][2-3] Potential
Loyalists, 5[4-5] Champions`` map, with the lowest corner R=1, FM=1 split off as ``Lost`` as in the
11-segment version)::

            FM=1            FM=2                FM=3                FM=4              FM=5
    R=5     New Customers   Potential Loyalists Potential Loyalists Champions         Champions
    R=4     Promising       Potential Loyalists Potential Loyalists Loyal Customers   Loyal Customers
    R=3     About to Sleep  About to Sleep      Need Attention      Loyal Customers   Loyal Customers
    R=2     Hibernating     Hibernating         At Risk             At Risk           Can't Lose Them
    R=1     Lost            Hibernating         At Risk             At Risk           Can't Lose Them

Uniqueness and stability rule: medoids are named one after the other in decreasing value (key
above, which depends only on the profiles, never on the cluster numbers, so the same profiles get
the same names in any cluster order and run after run). Each takes its grid name if still free;
otherwise the free name nearest to its (R, FM) cell (Manhattan distance to the name's nearest
cell), preferring, at equal distance, names ranked *below* its own grid name in ``SEGMENT_ORDER``
(a demoted segment should not sound more valuable), then ``SEGMENT_ORDER``. When all 11 names are
taken (k > 11) the grid name gets a deterministic suffix: ``"At Risk 2"``, ``"At Risk 3"``...
"""

from __future__ import annotations

import numpy as np

K3_NAMES: tuple[str, str, str] = ("Champion", "Potential Loyalist", "Hibernating")

# Most valuable first (also the tie-break order of the uniqueness rule).
SEGMENT_ORDER: tuple[str, ...] = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)

# SEGMENT_GRID[R - 1][FM - 1]
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    ("Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),  # R=1
    ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),  # R=2
    ("About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"),  # R=3
    ("Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Loyal Customers"),  # R=4
    ("New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),  # R=5
)

_CELLS: dict[str, list[tuple[int, int]]] = {}
for _r, _row in enumerate(SEGMENT_GRID, start=1):
    for _fm, _name in enumerate(_row, start=1):
        _CELLS.setdefault(_name, []).append((_r, _fm))
assert set(_CELLS) == set(SEGMENT_ORDER)


def _as_rfm(a: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 3:
        arr = arr.reshape(1, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(
            f"{what} must have shape (n, 3) = (recency_days, frequency, monetary), got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} has non-finite values")
    return arr


def rfm_percentiles(medoid_rfm: np.ndarray, population_rfm: np.ndarray) -> np.ndarray:
    """(k, 3) mid-rank percentiles in [0, 1) of each medoid's R, F, M in the population (R inverted)."""
    med = _as_rfm(medoid_rfm, "medoid_rfm")
    pop = _as_rfm(population_rfm, "population_rfm")
    if pop.shape[0] == 0:
        raise ValueError("population_rfm is empty")
    n = pop.shape[0]
    out = np.empty_like(med)
    for j in range(3):
        col = np.sort(pop[:, j])
        left = np.searchsorted(col, med[:, j], side="left")
        right = np.searchsorted(col, med[:, j], side="right")
        out[:, j] = (left + 0.5 * (right - left)) / n
    out[:, 0] = 1.0 - out[:, 0]  # recency: fewer days since the last order is better
    return out


def rfm_scores(medoid_rfm: np.ndarray, population_rfm: np.ndarray) -> np.ndarray:
    """(k, 3) integer quintile scores 1..5 (R, F, M; 5 = best; R inverted), see the module docstring."""
    p = rfm_percentiles(medoid_rfm, population_rfm)
    return np.clip(1 + np.floor(5 * p), 1, 5).astype(int)


def value_order(medoid_rfm: np.ndarray, population_rfm: np.ndarray) -> list[int]:
    """Medoid positions, most valuable first (mean quintile score; then monetary, frequency, recency)."""
    med = _as_rfm(medoid_rfm, "medoid_rfm")
    scores = rfm_scores(med, population_rfm)
    value = scores.mean(axis=1)
    # np.lexsort: the last key is the primary one; all keys ascending, so negate "higher is better".
    order = np.lexsort((med[:, 0], -med[:, 1], -med[:, 2], -value))
    return [int(i) for i in order]


def grid_name(r_score: int, fm_score: int) -> str:
    """The segment map's name for a recency score and a combined frequency/monetary score (1..5)."""
    if not (1 <= r_score <= 5 and 1 <= fm_score <= 5):
        raise ValueError(f"scores must be in 1..5, got R={r_score} FM={fm_score}")
    return SEGMENT_GRID[r_score - 1][fm_score - 1]


def fm_score(f_score: int, m_score: int) -> int:
    """Combined frequency/monetary score: (F + M) / 2 rounded half up."""
    return int((int(f_score) + int(m_score) + 1) // 2)


def _nearest_free(cell: tuple[int, int], own: str, taken: set[str]) -> str | None:
    own_rank = SEGMENT_ORDER.index(own)
    best = None
    for rank, name in enumerate(SEGMENT_ORDER):
        if name in taken:
            continue
        dist = min(abs(cell[0] - r) + abs(cell[1] - fm) for r, fm in _CELLS[name])
        key = (dist, 0 if rank > own_rank else 1, rank)
        if best is None or key < best[0]:
            best = (key, name)
    return None if best is None else best[1]


def name_segments(medoid_rfm: np.ndarray, population_rfm: np.ndarray) -> list[str]:
    """One unique name per medoid (same order as ``medoid_rfm``); see the module docstring.

    ``medoid_rfm``: (k, 3) raw recency_days, frequency, monetary of the medoids;
    ``population_rfm``: (n, 3) the same columns for every customer that was clustered.
    """
    med = _as_rfm(medoid_rfm, "medoid_rfm")
    k = med.shape[0]
    if k == 0:
        return []
    order = value_order(med, population_rfm)
    names: list[str | None] = [None] * k
    if k == 3:
        for name, i in zip(K3_NAMES, order, strict=True):
            names[i] = name
        return [str(n) for n in names]
    scores = rfm_scores(med, population_rfm)
    taken: set[str] = set()
    suffix: dict[str, int] = {}
    for i in order:
        r, f, m = (int(s) for s in scores[i])
        cell = (r, fm_score(f, m))
        own = grid_name(*cell)
        name = own if own not in taken else _nearest_free(cell, own, taken)
        if name is None:  # more segments than names
            suffix[own] = suffix.get(own, 1) + 1
            name = f"{own} {suffix[own]}"
        taken.add(name)
        names[i] = name
    return [str(n) for n in names]
