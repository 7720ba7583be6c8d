"""Long work is written as generators that yield progress and return a result; this runs them."""
from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def drain(generator: Generator[Any, None, T], on_item: Callable[[Any], None] | None = None) -> T:
    """Run `generator` to its end and return its return value; `on_item` sees every yield."""
    while True:
        try:
            item = next(generator)
        except StopIteration as stop:
            return stop.value
        if on_item is not None:
            on_item(item)
