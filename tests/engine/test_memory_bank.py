from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anomalygpt_engine.errors import ReferenceSetError
from anomalygpt_engine.memory_bank import (
    PatchBank,
    flatten_patches,
    greedy_coreset,
    nearest_similarity,
    patch_distance_maps,
    principal_subspace,
    rotate_images,
    subspace_distance,
)


def test_rotations_are_image_major_and_exact():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    rotated = rotate_images([image], (0, 90, 180, 270))
    assert [r.shape for r in rotated] == [(2, 3, 3), (3, 2, 3), (2, 3, 3), (3, 2, 3)]
    np.testing.assert_array_equal(rotated[2], image[::-1, ::-1])


def test_non_right_angle_rotation_is_refused():
    with pytest.raises(ReferenceSetError):
        rotate_images([np.zeros((4, 4, 3), np.uint8)], (45,))


def test_flatten_normalises_each_patch():
    flat = flatten_patches(torch.randn(2, 5, 3, 4))
    assert flat.shape == (24, 5)
    torch.testing.assert_close(flat.norm(dim=1), torch.ones(24))


def test_nearest_similarity_matches_brute_force_across_chunks():
    queries = F.normalize(torch.randn(50, 8), dim=1)
    bank = F.normalize(torch.randn(300, 8), dim=1)
    expected = (queries @ bank.T).max(dim=1).values
    torch.testing.assert_close(nearest_similarity(queries, bank, chunk=64), expected)


def test_identical_patches_score_zero_and_foreign_ones_score_high():
    features = torch.randn(1, 16, 6, 6) + 3.0  # every bank patch points roughly along +1
    bank = PatchBank(layers=[flatten_patches(features)], embeddings=torch.zeros(1, 4))
    same = patch_distance_maps([features], bank, grid=6)
    assert same.abs().max() < 1e-5
    altered = features.clone()
    altered[0, :, 2, 3] = -1.0  # points the opposite way: unlike any bank patch
    distance = patch_distance_maps([altered], bank, grid=6)[0]
    assert distance[2, 3] > 1.5 and distance[2, 3] == distance.max()


def test_coreset_keeps_spread_out_points():
    cluster = torch.randn(500, 4) * 0.01
    outliers = torch.eye(4) * 10
    features = torch.cat([cluster, outliers])
    chosen = set(greedy_coreset(features, target=5).tolist())
    assert len(chosen) == 5
    assert {500, 501, 502, 503} <= chosen  # every far point is kept
    assert greedy_coreset(features, target=1000).numel() == 504  # no-op when already small


def test_principal_subspace_finds_the_plane_the_patches_lie_in():
    generator = torch.Generator().manual_seed(0)
    plane = torch.linalg.qr(torch.randn(8, 2, generator=generator)).Q.T  # 2 x 8, orthonormal
    patches = torch.randn(500, 2, generator=generator) @ plane + 0.001 * torch.randn(500, 8, generator=generator)
    mean, basis = principal_subspace(patches, share=0.95)
    assert basis.shape == (2, 8)
    in_plane = torch.tensor([[0.6, -0.8]]) @ plane
    off_plane = F.normalize(torch.randn(1, 8, generator=generator) - (torch.randn(1, 8) @ plane.T) @ plane, dim=1)
    assert subspace_distance(in_plane, mean, basis).item() < 1e-3
    assert subspace_distance(off_plane, mean, basis).item() > 0.1


def test_subspace_explains_a_blend_of_bank_patterns_that_no_single_patch_matches():
    """A good part's patch mixing two reference patterns: far from each, inside their span."""
    generator = torch.Generator().manual_seed(1)
    basis = torch.linalg.qr(torch.randn(16, 16, generator=generator)).Q.T
    a, b, foreign = basis[0], basis[1], basis[5]
    angles = torch.cat([torch.rand(200, generator=generator) * 15, 75 + torch.rand(200, generator=generator) * 15])
    radians = torch.deg2rad(angles)[:, None]
    arc = torch.cos(radians) * a + torch.sin(radians) * b + 0.001 * torch.randn(400, 16, generator=generator)
    bank = PatchBank(layers=[F.normalize(arc, dim=1)], embeddings=torch.zeros(1, 4))

    def as_map(vector: torch.Tensor) -> torch.Tensor:
        return vector.view(1, 16, 1, 1)

    blend = F.normalize(a + b, dim=0)  # 45 degrees: at least 30 degrees from every bank patch
    knn_only = patch_distance_maps([as_map(blend)], bank, grid=1)[0, 0]
    read_with_subspace = bank.with_subspace(0.999)
    with_subspace = patch_distance_maps([as_map(blend)], read_with_subspace, grid=1)[0, 0]
    assert knn_only > 0.1 and with_subspace < 0.01
    outside = patch_distance_maps([as_map(foreign)], read_with_subspace, grid=1)[0, 0]
    assert outside > 0.45  # a direction the references never show stays anomalous
