"""Per-product retention of image files; rows are always kept, only the pictures may be dropped."""
from __future__ import annotations

import hashlib
from enum import Enum


class Retention(str, Enum):
    ALL = "all"  # every image and heatmap
    NG_ONLY = "ng_only"  # only parts judged defective (NG and REVIEW: both need a person's look)
    SAMPLE = "sample"  # every defective part plus a deterministic fraction of OK parts


def keeps_files(policy: str, verdict: str, uid: str, sample_rate: float) -> bool:
    """Whether this inspection's image and heatmap are written.

    The sample is decided by the record's uid hash, not a random draw, so that a retried write
    makes the same decision and an auditor can re-derive which parts were kept.
    """
    policy = Retention(policy)
    defective = verdict != "OK"
    if policy is Retention.ALL or defective:
        return True
    if policy is Retention.NG_ONLY:
        return False
    bucket = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:4], "big") / 2**32
    return bucket < max(0.0, min(1.0, sample_rate))
