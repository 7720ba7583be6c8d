"""Pool evidence on small hand-made feature tensors: robust share, position window, leave-self-out."""
from __future__ import annotations

import torch

from anomalygpt_engine.evidence import PatchPool, per_part_distances, pool_distance, robust_pool_distance


def _part(values: list[list[float]]) -> torch.Tensor:
    """A 1 x C x 1 x N feature map from N patch vectors."""
    return torch.tensor(values, dtype=torch.float32).T.reshape(1, len(values[0]), 1, len(values))


def test_robust_distance_averages_the_closest_share():
    distances = torch.tensor([[0.0, 0.1, 0.5, 0.9]])
    assert robust_pool_distance(distances, 0.25).item() == 0.0
    assert robust_pool_distance(distances, 0.5).item() == torch.tensor(0.05).item()
    assert abs(robust_pool_distance(distances, 1.0).item() - 0.375) < 1e-6


def test_a_patch_repeated_in_a_minority_of_parts_stays_anomalous():
    normal, defect = [1.0, 0.0], [0.0, 1.0]
    # ten parts: two carry the same defect patch, eight do not
    parts = [_part([normal, defect]) for _ in range(2)] + [_part([normal, normal]) for _ in range(8)]
    pool = PatchPool.from_maps([torch.cat(parts)])
    queries = PatchPool.from_maps([parts[0]]).layers[0][0]
    with_twin = pool_distance(queries, pool.layers[0], (1, 2), share=0.5, exclude=0)
    assert with_twin[0].item() < 1e-6, "the normal patch is explained by the lot"
    assert with_twin[1].item() > 0.5, "one twin among nine parts does not explain the defect"
    nearest_only = pool_distance(queries, pool.layers[0], (1, 2), share=0.01, exclude=0)
    assert nearest_only[1].item() < 1e-6, "a plain nearest neighbour would have let the twin hide it"


def test_position_window_ignores_matches_far_away():
    a, b = [1.0, 0.0], [0.0, 1.0]
    query = PatchPool.from_maps([_part([a] + [b] * 9)]).layers[0][0]
    other = PatchPool.from_maps([_part([b] * 9 + [a])]).layers[0]
    anywhere = per_part_distances(query, other, (1, 10), radius=0.0)
    windowed = per_part_distances(query, other, (1, 10), radius=0.1)
    assert anywhere[0, 0].item() < 1e-6
    assert windowed[0, 0].item() > 0.9, "patch a at the far end of the other part is out of reach"


def test_pool_append_keeps_the_newest_parts():
    pool = PatchPool([])
    for index in range(5):
        pool.append([torch.full((1, 2, 1, 3), float(index + 1))], f"p{index}", capacity=3)
    assert len(pool) == 3 and pool.ids == ["p2", "p3", "p4"]
