"""Folder sources: which files of a folder a batch inspects."""

from __future__ import annotations

from pathlib import Path

from anomalygpt_engine.imageio import is_image_path


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Image files in `folder`, sorted by name so batches are repeatable; hidden files skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in folder.glob(pattern) if p.is_file() and is_image_path(p) and not p.name.startswith(".")
    )
