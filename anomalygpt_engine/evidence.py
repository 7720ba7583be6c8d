"""Unlabeled evidence from other parts of the same product: a lot, or the recent stream.

Most parts of a lot are good, so a patch that many other parts also show is normal, even when the
few references never showed it (MuSc's mutual scoring). A patch's pool distance is its distance to
each other part's nearest patch, averaged over the closest `share` of the parts: a defect repeated
in a few parts finds its twins among the lowest distances, but an average over a large share still
sees the parts without it. Where products are fixtured, matches are also kept to a window around
the patch's own position (`radius`, a fraction of the side), so that pits at different places on
different parts do not explain each other. The final patch distance is the smaller of the
reference distance and the pool distance: a patch is normal if either the references or a robust
share of the other parts explain it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

POOL_CHUNK = 16  # parts per matrix product: bounds memory at ~16 x hw x hw floats


@dataclass
class PatchPool:
    """Normalised patch features of P parts per layer (P x hw_l x C_l), in arrival order."""

    layers: list[torch.Tensor]
    ids: list[str] = field(default_factory=list)  # caller's names for the parts (stream bookkeeping)

    def __len__(self) -> int:
        return int(self.layers[0].shape[0]) if self.layers else 0

    @classmethod
    def from_maps(cls, layer_maps: list[torch.Tensor], ids: list[str] | None = None) -> PatchPool:
        """From encoder outputs (B x C x h x w per layer)."""
        layers = [_flatten(fm) for fm in layer_maps]
        count = int(layers[0].shape[0])
        return cls(layers, list(ids) if ids is not None else [str(i) for i in range(count)])

    def append(self, layer_maps: list[torch.Tensor], part_id: str, capacity: int) -> None:
        """Add one part (1 x C x h x w per layer); the oldest part leaves once `capacity` is reached."""
        new = [_flatten(fm) for fm in layer_maps]
        if not self.layers:
            self.layers = new
        else:
            self.layers = [torch.cat([old, n.to(old.dtype)])[-capacity:] for old, n in zip(self.layers, new)]
        self.ids = (self.ids + [part_id])[-capacity:]

    def to(self, device: torch.device, dtype: torch.dtype) -> PatchPool:
        return PatchPool([t.to(device, dtype) for t in self.layers], list(self.ids))


def _flatten(feature_map: torch.Tensor) -> torch.Tensor:
    b, c, h, w = feature_map.shape
    flat = feature_map.float().permute(0, 2, 3, 1).reshape(b, h * w, c)
    return torch.nn.functional.normalize(flat, dim=2)


_WINDOWS: dict[tuple[int, int, float, str], torch.Tensor] = {}


def position_window(h: int, w: int, radius: float, device: torch.device) -> torch.Tensor:
    """hw x hw boolean: True where two cells lie within `radius` x side of each other."""
    key = (h, w, radius, str(device))
    if key not in _WINDOWS:
        reach_y, reach_x = max(1, round(radius * h)), max(1, round(radius * w))
        ys = torch.arange(h * w, device=device) // w
        xs = torch.arange(h * w, device=device) % w
        _WINDOWS[key] = ((ys[:, None] - ys[None]).abs() <= reach_y) & ((xs[:, None] - xs[None]).abs() <= reach_x)
    return _WINDOWS[key]


def per_part_distances(queries: torch.Tensor, pool_layer: torch.Tensor, grid: tuple[int, int],
                       radius: float = 0.0) -> torch.Tensor:
    """hw x P: each query patch's distance (1 - cosine) to the nearest patch of each pool part."""
    window = position_window(*grid, radius, queries.device) if radius > 0 else None
    columns = []
    for start in range(0, pool_layer.shape[0], POOL_CHUNK):
        chunk = pool_layer[start : start + POOL_CHUNK].to(queries.dtype)
        sims = torch.einsum("mc,pnc->mpn", queries, chunk)
        if window is not None:
            sims = sims.masked_fill(~window[:, None, :], -1.0)
        columns.append(sims.max(dim=2).values.float())
    return 1.0 - torch.cat(columns, dim=1)


def robust_pool_distance(distances: torch.Tensor, share: float) -> torch.Tensor:
    """Mean of each row's lowest ceil(share x P) distances: hw x P -> hw."""
    count = max(1, min(distances.shape[1], math.ceil(share * distances.shape[1])))
    return distances.topk(count, dim=1, largest=False).values.mean(dim=1)


def pool_distance(queries: torch.Tensor, pool_layer: torch.Tensor, grid: tuple[int, int], share: float,
                  radius: float = 0.0, exclude: int | None = None) -> torch.Tensor:
    """Robust distance of each query patch to the pool (hw), leaving out part `exclude` (the query)."""
    if exclude is not None:
        pool_layer = torch.cat([pool_layer[:exclude], pool_layer[exclude + 1 :]])
    return robust_pool_distance(per_part_distances(queries, pool_layer, grid, radius), share)
