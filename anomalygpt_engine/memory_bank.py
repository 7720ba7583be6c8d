"""Few-shot memory bank: patch features of normal references (and their rotations), kNN scoring.

Per layer, a query patch's anomaly is 1 - max cosine similarity to every bank patch of that layer;
layer maps are upsampled to the model-input grid and averaged, as AnomalyGPT's in-context scoring.
With a subspace share (SubspaceAD's idea, on our features), a patch is also normal when it lies in
the principal subspace of the bank's patches: its distance is the smaller of the nearest-neighbour
distance and half its squared residual to that subspace (the same units for unit vectors). A good
part seen in a pose or lighting the one reference does not show is mostly a recombination of the
reference's patterns, which the subspace explains and a single nearest patch does not.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from anomalygpt_engine.backbones import Encoder
from anomalygpt_engine.errors import ReferenceSetError
from anomalygpt_engine.evidence import PatchPool, pool_distance


@dataclass
class PoolEvidence:
    """A pool of other parts and how to read it; `exclude` maps a batch row to its own pool index."""

    pool: PatchPool
    share: float
    radius: float = 0.0
    exclude: list[int | None] | None = None

    def distance(self, queries: torch.Tensor, layer: int, grid: tuple[int, int], row: int) -> torch.Tensor:
        skip = self.exclude[row] if self.exclude is not None else None
        return pool_distance(queries.float(), self.pool.layers[layer], grid, self.share, self.radius, skip)


@dataclass
class PatchBank:
    """L2-normalised patch features per layer (N_l x C_l) and one embedding per reference."""

    layers: list[torch.Tensor]
    embeddings: torch.Tensor  # K x D, unrotated references only
    subspace_share: float = 0.0  # > 0: distances are also bounded by the principal subspace (see above)
    _subspaces: dict = field(default_factory=dict, repr=False, compare=False)

    def to(self, device: torch.device, dtype: torch.dtype) -> PatchBank:
        return PatchBank([t.to(device, dtype) for t in self.layers], self.embeddings.to(device, dtype),
                         self.subspace_share)

    def with_subspace(self, share: float) -> PatchBank:
        """The same patches read with another subspace share (shares the tensors, not the cache)."""
        return self if share == self.subspace_share else PatchBank(self.layers, self.embeddings, share)

    def subspace(self, layer: int, share: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (1 x C) and orthonormal basis (k x C) holding `share` of the layer's patch variance;
        computed once per bank (a held-out calibration bank gets its own)."""
        key = (layer, share)
        if key not in self._subspaces:
            self._subspaces[key] = principal_subspace(self.layers[layer].float(), share)
        return self._subspaces[key]

    @property
    def sizes(self) -> list[int]:
        return [int(t.shape[0]) for t in self.layers]


def rotate_images(images: Sequence[np.ndarray], rotations: Sequence[int]) -> list[np.ndarray]:
    """Each image at each rotation (multiples of 90 degrees), image-major order."""
    out: list[np.ndarray] = []
    for image in images:
        for angle in rotations:
            if angle % 90:
                raise ReferenceSetError(f"rotation {angle} is not a multiple of 90 degrees")
            out.append(np.ascontiguousarray(np.rot90(image, k=(angle // 90) % 4)))
    return out


def encode_images(encoder: Encoder, images: Sequence[np.ndarray], size: int, batch_size: int = 8):
    """Yield encoded batches so callers can report progress and cancel between them."""
    for start in range(0, len(images), batch_size):
        chunk = list(images[start : start + batch_size])
        yield len(chunk), encoder.encode(encoder.preprocess(chunk, size))


def flatten_patches(feature_map: torch.Tensor) -> torch.Tensor:
    """B x C x H x W -> (B*H*W) x C, L2-normalised along C."""
    flat = feature_map.permute(0, 2, 3, 1).reshape(-1, feature_map.shape[1])
    return F.normalize(flat.float(), dim=1)


def greedy_coreset(features: torch.Tensor, target: int, seed: int = 0) -> torch.Tensor:
    """Indices of a k-center greedy subset (PatchCore) computed on a random projection for speed.

    Squared distances come from precomputed norms and one matrix-vector product per pick (the same
    picks as pairwise distances, which cost ~50x more per step: 4 references at 320 px took minutes)."""
    n = features.shape[0]
    if n <= target:
        return torch.arange(n)
    generator = torch.Generator().manual_seed(seed)
    dims = min(128, features.shape[1])
    projection = torch.randn(features.shape[1], dims, generator=generator) / dims**0.5
    reduced = (features.float().cpu() @ projection).contiguous()
    norms = (reduced * reduced).sum(dim=1)

    def squared_to(index: int) -> torch.Tensor:
        return (norms + norms[index] - 2.0 * torch.mv(reduced, reduced[index])).clamp_min_(0.0)

    selected = [int(torch.randint(n, (1,), generator=generator))]
    distances = squared_to(selected[-1])
    for _ in range(target - 1):
        index = int(torch.argmax(distances))
        selected.append(index)
        torch.minimum(distances, squared_to(index), out=distances)
    return torch.tensor(selected)


def principal_subspace(patches: torch.Tensor, share: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of N x C patches through the C x C covariance (C <= a few hundred: cheap for any N)."""
    mean = patches.mean(dim=0, keepdim=True)
    centred = patches - mean
    covariance = centred.T @ centred / max(1, patches.shape[0] - 1)
    values, vectors = torch.linalg.eigh(covariance)  # ascending
    values, vectors = values.flip(0).clamp_min(0), vectors.flip(1)
    explained = values.cumsum(0) / values.sum().clamp_min(1e-12)
    k = int((explained < share).sum().item()) + 1
    return mean, vectors[:, : min(k, vectors.shape[1])].T.contiguous()


def subspace_distance(queries: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Half the squared residual of each (unit) query off the subspace: comparable to 1 - cos."""
    centred = queries.float() - mean
    residual = centred - (centred @ basis.T) @ basis
    return 0.5 * (residual * residual).sum(dim=1)


def nearest_similarity(queries: torch.Tensor, bank: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Max cosine similarity of each query row to the bank (both normalised), chunked over the bank."""
    best = torch.full((queries.shape[0],), -1.0, device=queries.device, dtype=torch.float32)
    for start in range(0, bank.shape[0], chunk):
        sims = queries @ bank[start : start + chunk].T
        best = torch.maximum(best, sims.max(dim=1).values.float())
    return best


def reference_distance(queries: torch.Tensor, bank: PatchBank, index: int) -> torch.Tensor:
    """Each query patch's distance to the bank's layer `index`: 1 - max cos, bounded by the residual
    to the bank's principal subspace where its `subspace_share` > 0."""
    bank_layer = bank.layers[index]
    distance = 1.0 - nearest_similarity(queries.to(bank_layer.dtype), bank_layer)
    if bank.subspace_share > 0:
        mean, basis = bank.subspace(index, bank.subspace_share)
        distance = torch.minimum(distance, subspace_distance(queries, mean, basis))
    return distance


def patch_distance_maps(layers: list[torch.Tensor], bank: PatchBank | None, grid: int,
                        evidence: PoolEvidence | None = None) -> torch.Tensor:
    """Per-image anomaly maps (B x grid x grid): mean over layers of upsampled 1 - max cos.

    With the bank's `subspace_share` > 0 the reference distance is also bounded by the residual to
    the bank's principal subspace (module docstring). With `evidence`, each patch takes the smaller of its
    reference distance and its robust distance to the pool of other parts (see evidence.py);
    without a bank, the pool alone scores.
    """
    total = None
    for index, feature_map in enumerate(layers):
        b, _, h, w = feature_map.shape
        queries = flatten_patches(feature_map)
        distance = reference_distance(queries, bank, index) if bank is not None else None
        if evidence is not None and len(evidence.pool):
            pooled = torch.cat([evidence.distance(queries[i * h * w : (i + 1) * h * w], index, (h, w), i)
                                for i in range(b)])
            distance = pooled if distance is None else torch.minimum(distance, pooled)
        distance = distance.view(b, 1, h, w)
        upsampled = F.interpolate(distance, size=(grid, grid), mode="bilinear", align_corners=False)
        total = upsampled if total is None else total + upsampled
    return (total / len(layers)).squeeze(1)
