"""Fixtures: a fresh SQLite store, and a throwaway PostgreSQL database when a server is configured."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from desktop_app.history import HistoryStore

PG_ENV = "ANOMALYGPT_TEST_POSTGRES_URL"
# history_helpers lives beside this file; make it importable whatever pytest's import mode
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def store(tmp_path):
    with HistoryStore(tmp_path / "db", busy_timeout_s=1.0) as s:
        yield s


@pytest.fixture
def pg_url():
    """A fresh database on the server named by $ANOMALYGPT_TEST_POSTGRES_URL, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: no PostgreSQL server to test against (.ci/run starts one)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"agpt_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """The same tests on both back ends."""
    if request.param == "sqlite":
        url = tmp_path / "db"
    else:
        url = request.getfixturevalue("pg_url")
    with HistoryStore(url, files_dir=tmp_path / "files", busy_timeout_s=1.0) as s:
        yield s
