"""Bundle entry: the station, or the engine CLI when called as `anomalygpt` or with `--engine-cli`.

One executable serves both so the bundle is analysed (and its 1 GB of torch collected) once.
"""
from __future__ import annotations

import multiprocessing
import os
import sys


def main() -> int:
    argv = sys.argv[1:]
    program = os.path.basename(sys.argv[0]).lower()
    if program.startswith("anomalygpt") and "inspector" not in program:
        from anomalygpt_engine.cli import main as cli_main

        return cli_main(argv)
    if argv[:1] == ["--engine-cli"]:
        from anomalygpt_engine.cli import main as cli_main

        return cli_main(argv[1:])
    from desktop_app.__main__ import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
