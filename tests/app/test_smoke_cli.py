"""`anomalygpt-inspector --smoke-test`: the real app starts offscreen, inspects the demo, exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def test_smoke_test_command_exits_zero(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ANOMALYGPT_DATA_DIR=str(tmp_path / "data"))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--smoke-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "smoke: OK, 4 images inspected" in done.stdout
    assert "pitting_1" in done.stdout and (tmp_path / "data" / "settings.json").exists()
    assert (tmp_path / "data" / "history.sqlite3").exists()  # inspections went into the history store
    print(f"smoke test took {elapsed:.1f} s")
