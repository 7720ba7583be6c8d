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


class WrongModelFileError(ModelLoadError):
    """A weights file holds something other than the role it was given (e.g. a PandaGPT delta as the
    AnomalyGPT checkpoint)."""


class CheckpointKeysError(ModelLoadError):
    """A state dict lacks tensors the model needs, or holds tensors it does not know."""

    def __init__(self, message: str, missing: tuple[str, ...] = (), unexpected: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing
        self.unexpected = unexpected


class InsufficientMemoryError(ModelLoadError):
    """Not enough (GPU) memory for the configured models; the message says how much is needed."""

    def __init__(self, message: str, needed_bytes: int = 0, available_bytes: int = 0) -> None:
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes


class ReferenceSetError(EngineError):
    """A reference set is empty, inconsistent with the engine, or unreadable."""
