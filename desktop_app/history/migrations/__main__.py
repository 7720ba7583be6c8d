"""Command line: migrate a history database without starting the app."""
from __future__ import annotations

import argparse

from sqlalchemy import create_engine

from desktop_app.history.migrations import current_revision, head_revision, upgrade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desktop_app.history.migrations")
    parser.add_argument("action", choices=["upgrade", "current"])
    parser.add_argument("url", help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db")
    args = parser.parse_args(argv)
    engine = create_engine(args.url)
    if args.action == "upgrade":
        upgrade(engine)
    print(f"current={current_revision(engine)} head={head_revision()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
