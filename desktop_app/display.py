"""Can the station open a window here? Checked before QApplication exists, in plain words.

Qt's xcb plugin aborts the process (qFatal) when a library it needs is missing or the X display
cannot be opened, with a message about plugins that a line inspector cannot act on. So before
creating QApplication the entry point asks this module: which platform Qt will use, whether the
libraries of the xcb plugin load, and whether the X server answers. Nothing here imports Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

EXIT_NO_DISPLAY = 3

# Shared libraries Qt 6's xcb platform plugin links to (`ldd libqxcb.so libQt6XcbQpa.so.6`) and the
# Debian / Ubuntu packages that provide them. A minimal desktop lacks the first four.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libglib-2.0.so.0": "libglib2.0-0",
}
HEADLESS = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs", "minimalegl")


def platform_name(env: Mapping[str, str]) -> str:
    """The Qt platform plugin that will be used (what Qt 6 picks on Linux when none is set)."""
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def missing_libraries(loads: Callable[[str], bool] = _loads) -> dict[str, str]:
    return {lib: package for lib, package in XCB_LIBRARIES.items() if not loads(lib)}


def x_display_opens(display: str) -> bool:
    """Connect to the X server with libxcb as Qt would, and disconnect at once."""
    lib = ctypes.CDLL("libxcb.so.1")
    lib.xcb_connect.restype = ctypes.c_void_p
    lib.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    lib.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = lib.xcb_connect(display.encode(), None)
    try:
        return bool(connection) and lib.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            lib.xcb_disconnect(connection)


def display_problem(env: Mapping[str, str] | None = None,
                    loads: Callable[[str], bool] = _loads,
                    opens: Callable[[str], bool] = x_display_opens) -> str | None:
    """None when a window can be opened; otherwise what is wrong and what to do, in plain words."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None
    platform = platform_name(env)
    if platform in HEADLESS or platform != "xcb":
        return None  # offscreen checks need no display; Wayland reports its own errors readably
    missing = missing_libraries(loads)
    if missing:
        packages = " ".join(sorted(set(missing.values())))
        return (
            "AnomalyGPT Inspector cannot open a window: the X11 (xcb) display support of Qt needs "
            f"system libraries that are not installed ({', '.join(missing)}).\n"
            f"On Debian or Ubuntu install them with:\n    sudo apt-get install {packages}\n"
            "then start the station again."
        )
    display = env.get("DISPLAY", "")
    if not display:
        return (
            "AnomalyGPT Inspector cannot open a window: no display is set (DISPLAY is empty).\n"
            "Start the station from the desktop session of the station's screen, or over SSH with X "
            "forwarding (ssh -X), or on a machine without a screen with xvfb-run. For a check without "
            "any window: anomalygpt-inspector --smoke-test."
        )
    try:
        ok = opens(display)
    except OSError:
        ok = True  # libxcb could not be asked; let Qt try
    if not ok:
        return (
            f"AnomalyGPT Inspector cannot open a window: the display {display!r} does not answer "
            "(no X server there, or this user may not use it).\n"
            "Check that the station's desktop session is running and that DISPLAY names it "
            "(usually :0); over SSH use ssh -X; without a screen use xvfb-run."
        )
    return None


def check_display_or_exit() -> None:
    """Print the problem to stderr and exit with EXIT_NO_DISPLAY, before Qt aborts on its own."""
    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        raise SystemExit(EXIT_NO_DISPLAY)
