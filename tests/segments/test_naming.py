"""Segment names come from the medoids' RFM profile: k=3 value order, the R x FM grid for other k,
unique names, and the same names whatever the cluster order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vehicle_sales.segments.naming import (
    K3_NAMES,
    SEGMENT_GRID,
    SEGMENT_ORDER,
    fm_score,
    grid_name,
    name_segments,
    rfm_scores,
    value_order,
)


def population(n: int = 2000, seed: int = 0) -> np.ndarray:
    """Skewed like real customers: uniform-ish recency, geometric frequency, lognormal spend."""
    rng = np.random.default_rng(seed)
    freq = rng.geometric(0.35, n)
    return np.column_stack([rng.integers(0, 1000, n), freq, freq * rng.lognormal(np.log(3000), 1.0, n)])


def test_k3_names_follow_value_champion_then_potential_loyalist_then_hibernating():
    pop = population()
    medoids = np.array(
        [
            [600.0, 1, 1500],  # long gone, one small order
            [10.0, 12, 90_000],  # very recent, very frequent, top spend
            [120.0, 4, 14_000],  # above average everywhere
        ]
    )
    assert name_segments(medoids, pop) == ["Hibernating", "Champion", "Potential Loyalist"]


def test_k3_ties_on_the_value_score_are_broken_by_monetary():
    pop = population()
    base = np.array([[500.0, 1, 900], [500.0, 1, 950], [500.0, 1, 1000]])
    assert len(set(rfm_scores(base, pop).mean(axis=1))) == 1  # same quintile scores
    assert name_segments(base, pop) == ["Hibernating", "Potential Loyalist", "Champion"]


def test_scores_use_mid_rank_percentiles_with_recency_inverted():
    pop = np.column_stack([np.arange(100), np.r_[np.ones(60), np.arange(2, 42)], np.arange(100) * 10.0])
    scores = rfm_scores(np.array([[0.0, 1, 990], [99.0, 41, 0]]), pop)
    # recency 0 is the most recent (score 5); frequency 1 is shared by 60 % -> mid-rank 0.30 -> 2
    np.testing.assert_array_equal(scores, [[5, 2, 5], [1, 5, 1]])
    assert fm_score(4, 5) == 5 and fm_score(3, 4) == 4 and fm_score(1, 2) == 2


@pytest.mark.parametrize(
    "r, fm, expected",
    [
        (5, 5, "Champions"),
        (5, 4, "Champions"),
        (4, 5, "Loyal Customers"),
        (3, 4, "Loyal Customers"),
        (5, 2, "Potential Loyalists"),
        (4, 3, "Potential Loyalists"),
        (5, 1, "New Customers"),
        (4, 1, "Promising"),
        (3, 3, "Need Attention"),
        (3, 1, "About to Sleep"),
        (2, 4, "At Risk"),
        (1, 5, "Can't Lose Them"),
        (2, 2, "Hibernating"),
        (1, 1, "Lost"),
    ],
)
def test_grid_maps_recency_and_frequency_monetary_scores_to_the_published_segments(r, fm, expected):
    assert grid_name(r, fm) == expected


def test_grid_uses_every_segment_name():
    assert {name for row in SEGMENT_GRID for name in row} == set(SEGMENT_ORDER)


def test_names_are_unique_for_k_2_to_8_on_random_medoids():
    for seed in range(40):
        pop = population(seed=seed)
        rng = np.random.default_rng(seed)
        for k in range(2, 9):
            names = name_segments(pop[rng.choice(len(pop), k, replace=False)], pop)
            assert len(names) == k and len(set(names)) == k, (seed, k, names)
            if k == 3:
                assert sorted(names) == sorted(K3_NAMES)
            else:
                assert all(n in SEGMENT_ORDER for n in names)


def test_names_are_stable_under_any_permutation_of_the_clusters():
    pop = population(seed=1)
    rng = np.random.default_rng(1)
    for k in range(2, 9):
        medoids = pop[rng.choice(len(pop), k, replace=False)]
        reference = dict(zip(map(tuple, medoids), name_segments(medoids, pop), strict=True))
        perms = itertools.islice(itertools.permutations(range(k)), 30)
        for perm in perms:
            permuted = medoids[list(perm)]
            assert name_segments(permuted, pop) == [reference[tuple(m)] for m in permuted]


def test_a_collision_moves_the_lower_value_medoid_to_the_nearest_free_lower_name():
    pop = population(seed=2)
    top = np.array([[1.0, 30, 500_000], [2.0, 25, 400_000]])  # both in the Champions cell
    assert name_segments(top, pop) == ["Champions", "Loyal Customers"]
    assert name_segments(top[::-1], pop) == ["Loyal Customers", "Champions"]
    lost = np.array([[999.0, 1, 10], [998.0, 1, 12]])  # both Lost: the better one keeps it
    assert name_segments(lost, pop) == ["Hibernating", "Lost"]


def test_more_segments_than_names_get_a_deterministic_suffix():
    pop = population(seed=3)
    medoids = np.array([[1.0 + i, 30, 500_000 - i] for i in range(13)])
    names = name_segments(medoids, pop)
    assert len(set(names)) == 13
    assert names[0] == "Champions" and set(SEGMENT_ORDER) <= set(names)
    assert names[11:] == ["Champions 2", "Champions 3"]


def test_value_order_depends_on_profiles_only():
    pop = population(seed=4)
    medoids = np.array([[900.0, 1, 500], [5.0, 9, 60_000], [200.0, 3, 8_000], [50.0, 5, 20_000]])
    assert value_order(medoids, pop) == [1, 3, 2, 0]
    assert value_order(medoids[::-1], pop) == [2, 0, 1, 3]


def test_invalid_shapes_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        name_segments(np.zeros((3, 2)), population())
    with pytest.raises(ValueError, match="non-finite"):
        name_segments(np.array([[1.0, np.nan, 1]]), population())
