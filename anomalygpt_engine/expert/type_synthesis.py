"""License-clean training defects for the defect-type classifier, one generator per coarse type.

Sources are images the project may train on: scikit-image's CC0 textures, BSData normals (CC BY-SA)
and parts drawn here (`synthetic_part`: discs, nuts, plates and wires on a plain background, so that
breaks, bends and missing pieces have an edge to act on). Each generator returns (image, mask).
"""
from __future__ import annotations

import cv2
import numpy as np

from anomalygpt_engine.expert.taxonomy import DefectType
from anomalygpt_engine.synthesis import blotch, perlin_noise, perlin_texture, synthetic_texture


def synthetic_part(rng: np.random.Generator, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A drawn part on a plain background: (RGB image, part mask)."""
    background = rng.uniform(10, 245, size=3)
    image = np.ones((size, size, 3), np.float32) * background
    mask = np.zeros((size, size), np.uint8)
    c = size // 2
    kind = int(rng.integers(4))
    if kind == 0:  # disc or ring
        cv2.circle(mask, (c, c), int(size * rng.uniform(0.28, 0.42)), 1, -1)
        if rng.random() < 0.5:
            cv2.circle(mask, (c, c), int(size * rng.uniform(0.08, 0.18)), 0, -1)
    elif kind == 1:  # nut / gear with lobes
        radius = size * rng.uniform(0.25, 0.33)
        lobes = int(rng.integers(4, 9))
        angles = np.linspace(0, 2 * np.pi, 180)
        r = radius * (1 + 0.18 * np.cos(lobes * angles))
        pts = np.stack([c + r * np.cos(angles), c + r * np.sin(angles)], 1).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1)
        cv2.circle(mask, (c, c), int(radius * 0.4), 0, -1)
    elif kind == 2:  # plate
        w, h = int(size * rng.uniform(0.4, 0.75)), int(size * rng.uniform(0.3, 0.6))
        cv2.rectangle(mask, (c - w // 2, c - h // 2), (c + w // 2, c + h // 2), 1, -1)
    else:  # wires / leads
        for i in range(int(rng.integers(2, 5))):
            x = int(size * (0.2 + 0.6 * i / 4)) + int(rng.integers(-8, 8))
            cv2.line(mask, (x, int(size * 0.15)), (x, int(size * 0.85)), 1, int(rng.integers(5, 14)))
        cv2.rectangle(mask, (int(size * 0.15), int(size * 0.1)), (int(size * 0.85), int(size * 0.3)), 1, -1)
    texture = synthetic_texture((size, size), rng) * 0.25 + rng.uniform(0, 255, size=3) * 0.75
    shade = (perlin_noise((size, size), (2, 2), rng) * 20)[..., None]
    image = np.where(mask[..., None] > 0, texture + shade, image)
    image = cv2.GaussianBlur(image, (0, 0), 0.8) + rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), mask.astype(bool)


def _point(rng, shape, part: np.ndarray | None, edge: bool = False) -> tuple[int, int]:
    height, width = shape
    if part is not None:
        target = part
        if edge:
            target = cv2.morphologyEx(part.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
        ys, xs = np.nonzero(target)
        if len(ys):
            i = int(rng.integers(len(ys)))
            return int(xs[i]), int(ys[i])
    return int(rng.integers(width // 5, 4 * width // 5)), int(rng.integers(height // 5, 4 * height // 5))


def crack(image, rng, part=None):
    """A branching, jagged dark line; or a break: a chunk of the part's edge gone to the background."""
    height, width = image.shape[:2]
    out = image.astype(np.float32)
    mask = np.zeros((height, width), np.uint8)
    if part is not None and rng.random() < 0.4:  # break at the edge
        x, y = _point(rng, (height, width), part, edge=True)
        radius = int(min(height, width) * rng.uniform(0.05, 0.12))
        pts = np.array([[x + radius * np.cos(a) * rng.uniform(0.5, 1.3), y + radius * np.sin(a) * rng.uniform(0.5, 1.3)]
                        for a in np.linspace(0, 2 * np.pi, 9)[:-1]], np.int32)
        cv2.fillPoly(mask, [pts], 1)
        hit = mask.astype(bool) & part
        background = np.median(image[~part], axis=0) if (~part).any() else np.zeros(3)
        out[hit] = background
        return np.clip(out, 0, 255).astype(np.uint8), hit
    x, y = _point(rng, (height, width), part)
    angle = rng.uniform(0, 2 * np.pi)
    steps = int(rng.integers(12, 30))
    step = min(height, width) * rng.uniform(0.008, 0.02)
    thickness = max(1, int(min(height, width) * rng.uniform(0.004, 0.012)))
    for branch in range(int(rng.integers(1, 3))):
        px, py, a = float(x), float(y), angle + branch * rng.uniform(0.5, 1.5)
        for _ in range(steps // (branch + 1)):
            a += rng.normal(0, 0.45)
            nx, ny = px + step * np.cos(a), py + step * np.sin(a)
            cv2.line(mask, (int(px), int(py)), (int(nx), int(ny)), 1, thickness)
            px, py = nx, ny
    mask = mask.astype(bool)
    out[mask] = out[mask] * rng.uniform(0.1, 0.45)
    return np.clip(out, 0, 255).astype(np.uint8), mask


def scratch(image, rng, part=None):
    """A long, thin, straight or gently curved line, lighter or darker than the surface."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    x, y = _point(rng, (height, width), part)
    length = min(height, width) * rng.uniform(0.15, 0.45)
    angle = rng.uniform(0, np.pi)
    bend = rng.normal(0, 0.15)
    thickness = max(1, int(min(height, width) * rng.uniform(0.003, 0.008)))
    pts = [(x + t * length * np.cos(angle + bend * t), y + t * length * np.sin(angle + bend * t))
           for t in np.linspace(-0.5, 0.5, 12)]
    cv2.polylines(mask, [np.array(pts, np.int32)], False, 1, thickness)
    mask = mask.astype(bool)
    out = image.astype(np.float32)
    tone = 255.0 if rng.random() < 0.6 else 0.0
    alpha = rng.uniform(0.35, 0.8)
    out[mask] = (1 - alpha) * out[mask] + alpha * tone
    return np.clip(out, 0, 255).astype(np.uint8), mask


def pit(image, rng, part=None):
    """Small compact dark spots with a bright rim (pits, holes), or a shaded dent."""
    height, width = image.shape[:2]
    out = image.astype(np.float32)
    mask = np.zeros((height, width), bool)
    x0, y0 = _point(rng, (height, width), part)
    yy, xx = np.mgrid[:height, :width]
    for _ in range(int(rng.integers(1, 5))):
        x = x0 + int(rng.normal(0, 0.04 * width))
        y = y0 + int(rng.normal(0, 0.04 * height))
        r = min(height, width) * rng.uniform(0.01, 0.04)
        ry = r * rng.uniform(0.6, 1.4)
        d = ((xx - x) / r) ** 2 + ((yy - y) / ry) ** 2
        spot = d <= 1.0
        if rng.random() < 0.3:  # dent: light on one side, dark on the other
            shade = np.clip(1 - d, 0, 1) * np.sign(xx - x + 0.1) * rng.uniform(40, 80)
            out = out + shade[..., None]
        else:
            rim = (d > 1.0) & (d <= 1.6)
            out[spot] = out[spot] * rng.uniform(0.15, 0.5)
            out[rim] = out[rim] * 0.7 + 255 * 0.3 * rng.uniform(0.3, 1.0)
        mask |= spot
    return np.clip(out, 0, 255).astype(np.uint8), mask


def deformation(image, rng, part=None):
    """A local warp (bend), a piece missing (inpainted from its surround), or a patch flipped."""
    height, width = image.shape[:2]
    x, y = _point(rng, (height, width), part, edge=part is not None and rng.random() < 0.7)
    radius = min(height, width) * rng.uniform(0.08, 0.18)
    choice = rng.random()
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    weight = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * radius ** 2))
    if choice < 0.55:  # bend
        shift = radius * rng.uniform(0.3, 0.7)
        angle = rng.uniform(0, 2 * np.pi)
        mapx = (xx - shift * np.cos(angle) * weight).astype(np.float32)
        mapy = (yy - shift * np.sin(angle) * weight).astype(np.float32)
        out = cv2.remap(image, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    elif choice < 0.8 and part is not None:  # missing piece: the part's material replaced by background
        hole = (weight > 0.5).astype(np.uint8)
        out = cv2.inpaint(image, np.ascontiguousarray(hole & part.astype(np.uint8)), 5, cv2.INPAINT_TELEA)
    else:  # flipped / swapped patch
        r = int(radius)
        x0, y0 = int(np.clip(x - r, 0, width - 2 * r)), int(np.clip(y - r, 0, height - 2 * r))
        out = image.copy()
        patch = image[y0:y0 + 2 * r, x0:x0 + 2 * r]
        out[y0:y0 + 2 * r, x0:x0 + 2 * r] = patch[::-1] if rng.random() < 0.5 else np.rot90(patch, 2)
    diff = np.abs(out.astype(np.float32) - image.astype(np.float32)).mean(axis=2)
    mask = cv2.GaussianBlur(diff, (0, 0), 2) > 12
    return out, mask


def discolouration(image, rng, part=None):
    """A colour or brightness shift over a smooth blob with the texture kept, a stain, or a foreign fill."""
    choice = rng.random()
    if choice < 0.2:
        sample = blotch(image, rng)
        return sample.image, sample.mask
    if choice < 0.35:
        sample = perlin_texture(image, rng)
        return sample.image, sample.mask
    height, width = image.shape[:2]
    x, y = _point(rng, (height, width), part)
    noise = perlin_noise((height, width), (4, 4), rng)
    yy, xx = np.mgrid[:height, :width]
    radius = min(height, width) * rng.uniform(0.06, 0.2)
    blob = np.clip(1.3 - np.hypot(xx - x, yy - y) / radius + 0.3 * noise, 0, 1)
    if part is not None:
        blob = blob * part
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    shift = np.array([rng.uniform(-50, 30), rng.uniform(-35, 35), rng.uniform(-35, 35)], np.float32)
    lab = np.clip(lab + blob[..., None] * shift, 0, 255)
    out = cv2.cvtColor(lab.astype(np.uint8), cv2.COLOR_LAB2RGB)
    return out, blob > 0.4


GENERATORS = {
    DefectType.CRACK: crack, DefectType.SCRATCH: scratch, DefectType.PIT: pit,
    DefectType.DEFORMATION: deformation, DefectType.DISCOLOURATION: discolouration,
}
