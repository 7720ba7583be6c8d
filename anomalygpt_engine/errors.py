"""Typed errors: callers (GUI, CLI, tests) catch these, never bare exceptions."""
from __future__ import annotations


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class ImageLoadError(EngineError):
    """An image could not be turned into RGB uint8 (missing, corrupt, wrong type)."""


class ImageTooLargeError(ImageLoadError):
    """The image exceeds the configured pixel budget (decompression bombs included)."""


class ModelLoadError(EngineError):
    """Weights or a model folder are missing, malformed or refused for safety."""


class ReferenceSetError(EngineError):
    """A reference set is empty, inconsistent with the engine, or unreadable."""
