"""Can Qt open a window here? Checked before Qt starts, because Qt's xcb plugin aborts the process (exit 134) when a
system library is missing or no X server answers, and names only the first missing library.

Imports no Qt: the check loads the xcb plugin's system libraries with ctypes and connects to the X server with libxcb,
as the plugin would, and returns one sentence for the user (or None when Qt can go ahead).
"""
from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

__all__ = ["XCB_LIBRARIES", "APT_LINE", "uses_xcb", "missing_libraries", "display_problem"]

#: the system libraries PyQt6 6.11's xcb platform plugin (libqxcb.so + libQt6XcbQpa.so.6) links, with the Debian and
#: Ubuntu package of each (``ldd`` on the plugin; the pip wheel brings Qt's own libraries, not these)
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
#: the one line that installs them all (the README gives the same line)
APT_LINE = "sudo apt-get install " + " ".join(dict.fromkeys(XCB_LIBRARIES.values()))


def uses_xcb(env: Mapping[str, str] | None = None) -> bool:
    """True when Qt will use its xcb (X11) plugin: QT_QPA_PLATFORM=xcb, or unset on Linux outside a Wayland session."""
    env = os.environ if env is None else env
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if platform:
        return platform == "xcb"
    return sys.platform.startswith("linux") and not env.get("WAYLAND_DISPLAY")


def missing_libraries(names: list[str] | None = None) -> list[str]:
    """The system libraries of ``names`` (default: :data:`XCB_LIBRARIES`) the dynamic loader cannot load."""
    missing = []
    for name in names if names is not None else list(XCB_LIBRARIES):
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def _x_server_answers(display: str) -> bool:
    """True when libxcb connects to the X server ``display`` (as Qt's plugin does first)."""
    xcb = ctypes.CDLL("libxcb.so.1")
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        return conn is not None and xcb.xcb_connection_has_error(conn) == 0
    finally:
        if conn is not None:
            xcb.xcb_disconnect(conn)


def display_problem(env: Mapping[str, str] | None = None) -> str | None:
    """One sentence saying why Qt cannot open a window here (missing xcb libraries, no display), or None."""
    env = os.environ if env is None else env
    if not uses_xcb(env):
        return None
    missing = missing_libraries()
    if missing:
        packages = " ".join(dict.fromkeys(XCB_LIBRARIES[m] for m in missing))
        return (f"the app's window system (Qt's xcb plugin) needs system libraries that are missing "
                f"({', '.join(missing)}: the package{'s' if len(missing) > 1 else ''} {packages}); install them "
                f"all with: {APT_LINE}")
    display = env.get("DISPLAY", "")
    if not display:
        return ("no display to open the window on (DISPLAY is not set); run the app in a desktop session, or "
                "scripted without a window: QT_QPA_PLATFORM=offscreen cognn-app --frames N --screenshot OUT.png")
    if not _x_server_answers(display):
        return (f"the X display {display} does not answer (DISPLAY={display}); run the app in a desktop session, or "
                "scripted without a window: QT_QPA_PLATFORM=offscreen cognn-app --frames N --screenshot OUT.png")
    return None
