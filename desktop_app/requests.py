"""Background requests that carry their own callbacks, after Anki's `QueryOp(...).success(...)`.

The controller says what should happen when *this* request succeeds, fails or progresses, at the
place it sends it; nobody works out afterwards which request an error belonged to by comparing
ids, so a failed request can only touch the state its own callbacks touch.

A `Request` is also its id (an `int`): ids still key dictionaries, travel in the worker's signals
and cancel requests, so code that only needs the id keeps working unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Request(int):
    """One request sent to the worker. Chain `.success(cb)`, `.failure(cb)`, `.progress(cb)`, `.each(cb)`.

    success(value): once, at the end (the record, the reference set, the batch's (done, cancelled),
    a chat answer's `cancelled` flag, a `run()` call's value). failure(message): a readable reason;
    for a batch, once per image that could not be inspected (the batch goes on). progress(done,
    total, message): long requests. each(item): a batch's records, a chat answer's text pieces.
    """

    kind: str
    finished: bool
    error: str | None

    def __new__(cls, value: int, kind: str) -> Request:
        request = super().__new__(cls, value)
        request.kind = kind
        request.finished = False
        request.error = None
        request._callbacks = {}
        return request

    def _on(self, name: str, callback: Callable[..., Any]) -> Request:
        self._callbacks[name] = callback
        return self

    def success(self, callback: Callable[..., Any]) -> Request:
        return self._on("success", callback)

    def failure(self, callback: Callable[[str], Any]) -> Request:
        return self._on("failure", callback)

    def progress(self, callback: Callable[[int, int, str], Any]) -> Request:
        return self._on("progress", callback)

    def each(self, callback: Callable[[Any], Any]) -> Request:
        return self._on("each", callback)

    def call(self, name: str, *args: Any) -> None:
        """Run one callback; an exception in a view must not break the dispatch of other requests."""
        callback = self._callbacks.get(name)
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("%s callback of request %d (%s) failed", name, int(self), self.kind)


class RequestTable:
    """The client's open requests by id; routes the worker's signals to each request's callbacks."""

    # kinds whose first error ends the request; batches go on, chats end with chatFinished
    ENDS_ON_ERROR = ("inspect", "build", "run")

    def __init__(self) -> None:
        self._open: dict[int, Request] = {}

    def open(self, request: Request) -> Request:
        self._open[int(request)] = request
        return request

    def __len__(self) -> int:
        return len(self._open)

    def _finish(self, request_id: int) -> Request | None:
        request = self._open.pop(request_id, None)
        if request is not None:
            request.finished = True
        return request

    def succeeded(self, request_id: int, *value: Any) -> None:
        request = self._finish(request_id)
        if request is not None:
            request.call("success", *value)

    def item(self, request_id: int, item: Any) -> None:
        """A record of a batch or a piece of an answer; a single inspection's record is its success."""
        request = self._open.get(request_id)
        if request is None:
            return
        if request.kind == "inspect":
            self.succeeded(request_id, item)
        else:
            request.call("each", item)

    def progressed(self, request_id: int, done: int, total: int, message: str) -> None:
        request = self._open.get(request_id)
        if request is not None:
            request.call("progress", done, total, message)

    def failed(self, request_id: int, message: str) -> bool:
        """Route an error to its request; False when no open request owns it (a station notice)."""
        request = self._open.get(request_id)
        if request is None:
            return False
        if request.kind == "chat":
            request.error = message  # reported when the answer ends (chatFinished follows)
            return True
        if request.kind in self.ENDS_ON_ERROR:
            self._finish(request_id)
        request.call("failure", message)
        return True

    def chat_finished(self, request_id: int, cancelled: bool) -> None:
        request = self._finish(request_id)
        if request is None:
            return
        if request.error is not None:
            request.call("failure", request.error)
        else:
            request.call("success", cancelled)
