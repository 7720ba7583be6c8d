"""Engine creation and error translation: SQLite (WAL, immediate write locks) or a PostgreSQL URL."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from desktop_app.history import migrations
from desktop_app.history.errors import HistoryError, StorageFullError, StoreBusyError

DB_FILENAME = "history.sqlite3"


def default_data_dir() -> Path:
    """The user's data folder (XDG on Linux, APPDATA on Windows); ANOMALYGPT_DATA_DIR overrides."""
    override = os.environ.get("ANOMALYGPT_DATA_DIR")
    if override:
        return Path(override)
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "AnomalyGPT Inspector"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "anomalygpt-inspector"


def resolve_url(url_or_path: str | os.PathLike[str] | None) -> str:
    """A SQLAlchemy URL for a URL, a database file path, a folder, or None (the default file)."""
    if url_or_path is None:
        return f"sqlite:///{default_data_dir() / DB_FILENAME}"
    text = str(url_or_path)
    if "://" in text:
        return text
    path = Path(text)
    if path.is_dir() or path.suffix == "":
        path = path / DB_FILENAME
    return f"sqlite:///{path.resolve()}"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, *, busy_timeout_s: float = 5.0, durable: bool = True) -> Engine:
    """WAL mode lets the browser read while the station writes; BEGIN IMMEDIATE avoids the
    deadlock-prone read-to-write lock upgrade between concurrent SQLite writers."""
    path = sqlite_path(url)
    if path is None:
        return create_engine(url, pool_pre_ping=True, connect_args=_pg_connect_args(url))
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _pg_connect_args(url: str) -> dict[str, object]:
    return {"connect_timeout": 10} if make_url(url).get_backend_name() == "postgresql" else {}


def write_engine(engine: Engine) -> Engine:
    """The same pool, but transactions take SQLite's write lock up front."""
    return engine.execution_options(sqlite_immediate=True)


@contextlib.contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Driver errors -> StoreBusyError / StorageFullError / HistoryError with a readable message."""
    try:
        yield
    except DBAPIError as exc:
        message = str(exc.orig).lower()
        code = getattr(exc.orig, "sqlstate", None)
        if "disk is full" in message or "disk full" in message or code in ("53100",):
            raise StorageFullError(f"{what}: the database disk is full ({exc.orig})") from exc
        if "locked" in message or "busy" in message or isinstance(exc, OperationalError):
            raise StoreBusyError(f"{what}: the database is busy or unreachable ({exc.orig})") from exc
        raise HistoryError(f"{what}: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise HistoryError(f"{what}: {exc}") from exc


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        if os.name == "nt":  # pragma: no cover - Windows stations
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            return
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_schema(engine: Engine, url: str) -> None:
    """Run pending migrations; a lock file serialises stations opening a fresh SQLite file at once."""
    path = sqlite_path(url)
    with translate_errors("migrating the history database"):
        if migrations.current_revision(engine) == migrations.head_revision():
            return
        if path is None:
            migrations.upgrade(engine)  # env.py takes a PostgreSQL advisory lock
            return
        with _file_lock(path.with_name(path.name + ".migrate-lock")):
            if migrations.current_revision(engine) != migrations.head_revision():
                migrations.upgrade(engine)
