"""A fresh desktop: the station says in plain words why it cannot open a window, before Qt aborts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from desktop_app.display import EXIT_NO_DISPLAY, XCB_LIBRARIES, display_problem, platform_name


def test_missing_xcb_libraries_are_named_with_their_debian_packages():
    absent = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"}
    problem = display_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, loads=lambda lib: lib not in absent,
                              opens=lambda _d: True)
    assert problem is not None and "cannot open a window" in problem
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0" in problem


def test_no_display_and_a_dead_display_are_said_plainly():
    ok = lambda _lib: True  # noqa: E731
    assert "DISPLAY is empty" in display_problem({"QT_QPA_PLATFORM": "xcb"}, loads=ok)
    dead = display_problem({"DISPLAY": ":57"}, loads=ok, opens=lambda _d: False)
    assert "':57' does not answer" in dead
    assert display_problem({"DISPLAY": ":0"}, loads=ok, opens=lambda _d: True) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, loads=lambda _lib: False) is None
    assert platform_name({"QT_QPA_PLATFORM": "xcb:foo"}) == "xcb" and platform_name({}) == "xcb"
    assert set(XCB_LIBRARIES.values()) >= {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0"}


def test_the_entry_point_exits_with_a_plain_message_when_the_display_is_nothing(tmp_path):
    """The real start-up path: DISPLAY names no X server and Qt is asked for xcb."""
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=":97", ANOMALYGPT_DATA_DIR=str(tmp_path))
    env.pop("WAYLAND_DISPLAY", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "desktop_app"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == EXIT_NO_DISPLAY, done.stderr[-2000:]
    assert "AnomalyGPT Inspector cannot open a window" in done.stderr
    # either libraries are missing (named with apt-get) or the display is: never Qt's plugin abort
    assert ("':97' does not answer" in done.stderr) or ("sudo apt-get install" in done.stderr)
    assert "qt.qpa.plugin" not in done.stderr and "Aborted" not in done.stderr
    assert time.perf_counter() - started < 60  # before any model loads
