"""`anomalygpt-inspector` entry point (also the PyInstaller target)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not {"--smoke-test", "-h", "--help"} & set(args):  # the smoke test runs offscreen
        # Before Qt: its xcb plugin aborts with a plugin message when libraries or the display are missing.
        from desktop_app.display import check_display_or_exit

        check_display_or_exit()
    from desktop_app.app import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
