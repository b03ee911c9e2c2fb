"""Cold start of the frozen bundle against the same program run from the virtual environment.

    .venv/bin/python bench/cold_start.py --bundle DIR [--deb FILE] [--runs N]

DIR is the one-folder bundle (installer/build-bundle.sh makes dist/showdesk;
`installer/linux/ci-package-test.sh --keep DIR` keeps the bundle and the .deb it built).
Every run is a fresh process, for the bundled ``DIR/showdesk`` and for ``.venv/bin/showdesk``
in turn:

- ``showdesk --version``: process start to exit;
- the kiosk (``showdesk kiosk``, full screen, as the kiosk session starts it): process start
  until its window is mapped on a private Xvfb (the X server reports the map; no polling).

Each is measured with a warm page cache (after one untimed run of each) and, where this process
may write /proc/sys/vm/drop_caches (root, not in a restricted container), with the page cache
dropped before every run. Printed: median and minimum per program, the bundle/venv ratios, the
bundle's size (disk usage, as du) and the .deb's size.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk_startup import _xvfb  # the same private Xvfb (-displayfd) as the kiosk start-up benchmark

REPO = Path(__file__).resolve().parent.parent
DEADLINE_SECONDS = 60.0
WINDOW_TITLE = b"ShowDesk"
MAP_NOTIFY = 19  # X11 event type
SUBSTRUCTURE_NOTIFY_MASK = 1 << 19
MIB = 2**20


class _MapEvent(ctypes.Structure):
    """The head of Xlib's XMapEvent; XEvent is a union padded to 24 longs."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("event", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("override_redirect", ctypes.c_int),
    )


_X_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class MapWatcher:
    """Tells when a top-level window with the kiosk's title is mapped on an X display.

    Listens to the root window's substructure events through libX11, so the time is the X
    server's own report, without a poller competing with the measured program for the CPU.
    """

    def __init__(self, display: str) -> None:
        name = ctypes.util.find_library("X11")
        if name is None:
            raise RuntimeError("libX11 is not installed (Debian: libx11-6)")
        self._x11 = x11 = ctypes.CDLL(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = (ctypes.c_char_p,)
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = (ctypes.c_void_p,)
        x11.XSelectInput.argtypes = (ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long)
        x11.XSync.argtypes = (ctypes.c_void_p, ctypes.c_int)
        x11.XConnectionNumber.argtypes = (ctypes.c_void_p,)
        x11.XPending.argtypes = (ctypes.c_void_p,)
        x11.XNextEvent.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
        x11.XFetchName.argtypes = (ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_void_p))
        x11.XFree.argtypes = (ctypes.c_void_p,)
        x11.XCloseDisplay.argtypes = (ctypes.c_void_p,)
        # A window may be gone before its name is read (BadWindow); Xlib's default handler would exit.
        self._ignore_errors = _X_ERROR_HANDLER(lambda _display, _error: 0)
        x11.XSetErrorHandler(self._ignore_errors)
        self._display = x11.XOpenDisplay(display.encode())
        if not self._display:
            raise RuntimeError(f"cannot open X display {display}")
        x11.XSelectInput(self._display, x11.XDefaultRootWindow(self._display), SUBSTRUCTURE_NOTIFY_MASK)
        x11.XSync(self._display, 0)
        self._event = (ctypes.c_long * 24)()

    def close(self) -> None:
        self._x11.XCloseDisplay(self._display)

    def drain(self) -> None:
        """Forget the events of earlier runs."""
        while self._x11.XPending(self._display):
            self._x11.XNextEvent(self._display, self._event)

    def _title(self, window: int) -> bytes:
        name = ctypes.c_void_p()
        if not self._x11.XFetchName(self._display, window, ctypes.byref(name)) or not name.value:
            return b""
        title = ctypes.string_at(name.value)
        self._x11.XFree(name)
        return title

    def wait_for_window(self, process: subprocess.Popen[bytes]) -> float:
        """perf_counter() time at which the kiosk's window was mapped."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        fd = self._x11.XConnectionNumber(self._display)
        while True:
            while self._x11.XPending(self._display):
                self._x11.XNextEvent(self._display, self._event)
                mapped = ctypes.cast(self._event, ctypes.POINTER(_MapEvent)).contents
                if mapped.type == MAP_NOTIFY and self._title(mapped.window) == WINDOW_TITLE:
                    return time.perf_counter()
            if process.poll() is not None:
                raise RuntimeError(f"the kiosk exited with {process.returncode} before showing its window")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no kiosk window within {DEADLINE_SECONDS:.0f} s")
            select.select([fd], [], [], 0.5)


def drop_page_cache() -> bool:
    """Write back and drop the kernel's page cache; False where this process may not."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk for everything under path, as `du -s` counts (hard links once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for entry in [path, *path.rglob("*")]:
        status = entry.lstat()
        if (status.st_dev, status.st_ino) not in seen:
            seen.add((status.st_dev, status.st_ino))
            total += status.st_blocks * 512
    return total


def time_version(program: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([program, "--version"], check=True, capture_output=True, env=env, timeout=DEADLINE_SECONDS)
    return time.perf_counter() - start


def time_kiosk(program: str, env: dict[str, str], watcher: MapWatcher) -> float:
    watcher.drain()
    start = time.perf_counter()
    process = subprocess.Popen([program, "kiosk"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        shown = watcher.wait_for_window(process)
    except RuntimeError as error:
        process.kill()
        _, stderr = process.communicate(timeout=15)
        raise SystemExit(f"bench: {program} kiosk: {error}\n{stderr.decode(errors='replace')[-2000:]}") from None
    process.terminate()
    process.communicate(timeout=15)
    return shown - start


@dataclass(frozen=True)
class Series:
    bundle: list[float]
    venv: list[float]


def measure(runs: int, once: Callable[[str], float], bundle: str, venv: str, *, cold: bool) -> Series:
    """Runs alternate between the two programs, so a busy moment of the machine hits both alike."""
    if not cold:
        once(bundle)
        once(venv)
    series = Series([], [])
    for _ in range(runs):
        for program, times in ((bundle, series.bundle), (venv, series.venv)):
            if cold:
                drop_page_cache()
            times.append(once(program))
    return series


def isolated_env(root: Path, display: str) -> dict[str, str]:
    """The user's configuration, keyring and outbox stay out of it; the kiosk runs on the private Xvfb."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOWDESK_", "QT_", "XDG_"))}
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        (root / name).mkdir(mode=0o700)
        env[name] = str(root / name)
    (root / "config.toml").write_text('[kiosk]\nsite = "Bench"\n')
    env.update(
        DISPLAY=display,
        SHOWDESK_CONFIG=str(root / "config.toml"),
        SHOWDESK_MACHINE_CONFIG=str(root / "none.toml"),
        SHOWDESK_URL="http://127.0.0.1:9",  # nothing listens: the kiosk starts without a backend
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    env.pop("WAYLAND_DISPLAY", None)
    return env


def row(name: str, series: Series) -> str:
    b_med, b_min = statistics.median(series.bundle), min(series.bundle)
    v_med, v_min = statistics.median(series.venv), min(series.venv)
    return (
        f"| {name} | {b_med:.3f} | {b_min:.3f} | {v_med:.3f} | {v_min:.3f} "
        f"| {b_med / v_med:.2f}x | {b_min / v_min:.2f}x |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="the one-folder bundle (holds `showdesk`)")
    parser.add_argument("--deb", type=Path, help="the .deb built from it, for its size")
    parser.add_argument("--runs", type=int, default=5, help="runs per program and case (default 5)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    bundle = str((args.bundle / "showdesk").resolve())
    venv = str(REPO / ".venv" / "bin" / "showdesk")
    for program, hint in ((bundle, "installer/build-bundle.sh"), (venv, "scripts/setup.sh")):
        if not os.access(program, os.X_OK):
            print(f"bench: {program} is missing or not executable (make it with {hint})", file=sys.stderr)
            return 2
    if args.deb is not None and not args.deb.is_file():
        print(f"bench: {args.deb} is not a file", file=sys.stderr)
        return 2

    site_packages = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    print(f"bundle {args.bundle}: {disk_usage(args.bundle) / MIB:.0f} MiB on disk")
    if args.deb is not None:
        print(f"package {args.deb.name}: {args.deb.stat().st_size / MIB:.0f} MiB")
    print(f"peer: .venv site-packages {disk_usage(site_packages) / MIB:.0f} MiB (with the development tools)")

    can_drop = drop_page_cache()
    xvfb, display = _xvfb()
    if xvfb is None or display is None:
        print("bench: Xvfb is not installed (Debian: xvfb)", file=sys.stderr)
        return 2
    results: list[tuple[str, Series]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="showdesk-cold-") as scratch:
            env = isolated_env(Path(scratch), display)
            watcher = MapWatcher(display)
            try:
                cases: list[tuple[str, Callable[[str], float]]] = [
                    ("`showdesk --version`", lambda program: time_version(program, env)),
                    ("kiosk to its window", lambda program: time_kiosk(program, env, watcher)),
                ]
                for cold in (False, True) if can_drop else (False,):
                    for name, once in cases:
                        label = f"{name}, {'page cache dropped' if cold else 'warm cache'}"
                        results.append((label, measure(args.runs, once, bundle, venv, cold=cold)))
            finally:
                watcher.close()
    finally:
        xvfb.terminate()
        xvfb.wait(10)

    print(f"\nseconds, {args.runs} runs each, fresh process every run (kiosk on Xvfb {display}, 1920x1080)\n")
    print("| case | bundle median | bundle min | venv median | venv min | ratio median | ratio min |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, series in results:
        print(row(label, series))
    if not can_drop:
        print(
            "\nthe page cache could not be dropped here (needs root and a writable /proc/sys/vm/drop_caches):"
            " warm-cache figures only"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
