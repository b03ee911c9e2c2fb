"""Screen capture: one shot per monitor, one monitor, or a region of the virtual desktop.

A :class:`Capturer` keeps ONE ``mss`` instance (one X connection and shared-memory buffer, or
one GDI/CoreGraphics context) alive across captures: opening a new one per capture costs ten to
twenty times the grab itself (bench/capture.py). That instance is bound to the thread that
created the Capturer: Windows GDI device contexts and macOS CoreGraphics state are per thread,
and an X connection is not shared safely between threads. So a Capturer is owned by one thread
(the GUI thread, a dedicated capture thread, or a command-line process) and any other thread
calling it gets a :class:`CaptureError`; create one Capturer per thread that captures.

A grab returns the frame in memory at once (a :class:`Shot`, raw BGRX pixels, no encoding);
``agent.encoding`` turns it into PNG/WebP/JPEG off the caller's path.

Importing this module is cheap on purpose (no Qt, no Pillow, no pydantic, mss only on first
use): ``showdesk capture`` is measured as a whole process against ``scrot``. The report schema's
``Monitor`` is built only when asked for (:attr:`Shot.monitor`).

Coordinates are the desktop's own, as mss reports them: physical pixels on X11 and on Windows
(mss makes the process DPI-aware), points on macOS, where :attr:`MonitorInfo.scale` says how
many pixels a point holds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol, cast

if TYPE_CHECKING:
    from types import TracebackType

    from PIL import Image

    from agent.schema import Geometry, Monitor

PixelFormat = Literal["BGRX", "RGB"]
_BYTES_PER_PIXEL: Final[Mapping[str, int]] = {"BGRX": 4, "RGB": 3}
_MAX_NAME_CHARS: Final = 200
_MAX_SCALE: Final = 8.0  # the report schema's bound on a device-pixel ratio
PORTAL_HINT: Final = (
    "capturing a Wayland desktop needs the xdg-desktop-portal Screenshot interface "
    "(org.freedesktop.portal.Screenshot), which ShowDesk does not use yet; "
    'log in to an X11 session ("GNOME on Xorg", "Plasma (X11)") to capture'
)


class CaptureError(RuntimeError):
    """Capture cannot work here; the message names the cause and what to do about it."""


class Rect(NamedTuple):
    """A rectangle on the virtual desktop."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.left + self.width

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.top + self.height

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def intersection(self, other: Rect) -> Rect | None:
        left, top = max(self.left, other.left), max(self.top, other.top)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Rect(left, top, right - left, bottom - top)

    def contains(self, other: Rect) -> bool:
        return (
            self.left <= other.left
            and self.top <= other.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def describe(self) -> str:
        return f"{self.width}x{self.height} at ({self.left}, {self.top})"


class _RectLike(Protocol):
    @property
    def left(self) -> int: ...
    @property
    def top(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


@dataclass(frozen=True)
class MonitorInfo:
    """A monitor as the desktop reports it; :meth:`to_schema` gives the report's ``Monitor``.

    ``index`` follows mss: 0 is the whole virtual desktop (the bounding box of all monitors),
    1.. the real monitors. ``scale`` is the device-pixel ratio (pixels per desktop unit).
    """

    index: int
    rect: Rect
    name: str | None = None
    scale: float = 1.0
    primary: bool = False

    def to_schema(self) -> Monitor:
        from agent.schema import Geometry, Monitor

        rect = self.rect
        return Monitor(
            index=self.index,
            name=self.name,
            geometry=Geometry(left=rect.left, top=rect.top, width=rect.width, height=rect.height),
            scale=self.scale,
        )

    def facts(self) -> dict[str, object]:
        """The same facts as :meth:`to_schema`, as plain JSON-able data (no pydantic import)."""
        rect = self.rect
        geometry = {"left": rect.left, "top": rect.top, "width": rect.width, "height": rect.height}
        return {"index": self.index, "name": self.name, "geometry": geometry, "scale": self.scale}


@dataclass(frozen=True, eq=False)
class Shot:
    """One captured image, in memory and not yet encoded.

    ``pixels`` are ``height`` rows of ``width`` pixels with no padding, in ``pixel_format``
    order ("BGRX": blue, green, red, one unused byte, as screens hand them out; "RGB"). They
    are read-only: encoders on other threads and the GUI share them without copying. Hand them
    to Qt as ``QImage(shot.pixels, w, h, shot.stride, QImage.Format.Format_RGB32)`` (BGRX is
    Qt's RGB32 in memory on little-endian machines) or get a Pillow image from :meth:`image`.

    ``monitor`` is the screen the pixels came from (the whole desktop, index 0, when a region
    spans several); ``region`` is where on the virtual desktop the pixels were taken.
    """

    pixels: memoryview
    width: int
    height: int
    monitor_info: MonitorInfo
    region: Rect
    captured_at: datetime
    pixel_format: PixelFormat = "BGRX"
    capture_method: str = "mss"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        expected = self.width * self.height * _BYTES_PER_PIXEL[self.pixel_format]
        if self.width <= 0 or self.height <= 0 or self.pixels.nbytes != expected:
            raise ValueError(
                f"a {self.width}x{self.height} {self.pixel_format} shot needs {expected} bytes of pixels, "
                f"got {self.pixels.nbytes}"
            )

    @cached_property
    def monitor(self) -> Monitor:
        """The report schema's ``Monitor`` for this shot (built on first use)."""
        return self.monitor_info.to_schema()

    @property
    def stride(self) -> int:
        """Bytes per row."""
        return self.width * _BYTES_PER_PIXEL[self.pixel_format]

    @property
    def notes_text(self) -> str:
        """The notes as one line, as a step's ``capture_notes`` holds them."""
        return "; ".join(self.notes)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The (red, green, blue) value at column ``x``, row ``y`` of the shot."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise IndexError(f"pixel ({x}, {y}) is outside the {self.width}x{self.height} shot")
        offset = y * self.stride + x * _BYTES_PER_PIXEL[self.pixel_format]
        first, second, third = self.pixels[offset : offset + 3]
        return (third, second, first) if self.pixel_format == "BGRX" else (first, second, third)

    def image(self) -> Image.Image:
        """The shot as a Pillow RGB image (one conversion pass; the shot itself is not copied)."""
        from PIL import Image

        raw_mode = "BGRX" if self.pixel_format == "BGRX" else "RGB"
        # Pillow reads any buffer; its type hints only name bytes and bytearray.
        data = cast("bytes", self.pixels)
        return Image.frombuffer("RGB", (self.width, self.height), data, "raw", raw_mode, 0, 1)


# ---------------------------------------------------------------- geometry (pure functions)
def monitors_from_mss(
    raw_monitors: Sequence[Mapping[str, Any]], scales: Mapping[int, float] | None = None
) -> list[MonitorInfo]:
    """mss's monitor list (index 0 = all monitors) as :class:`MonitorInfo`, in the same order."""
    monitors = []
    for index, raw in enumerate(raw_monitors):
        name = raw.get("name") or raw.get("output")
        monitors.append(
            MonitorInfo(
                index=index,
                rect=Rect(int(raw["left"]), int(raw["top"]), int(raw["width"]), int(raw["height"])),
                name=_clean_name(name) if isinstance(name, str) else None,
                scale=(scales or {}).get(index, 1.0),
                primary=bool(raw.get("is_primary", False)),
            )
        )
    return monitors


def monitors_overlapping(region: Rect, monitors: Sequence[MonitorInfo]) -> list[tuple[MonitorInfo, Rect]]:
    """The real monitors (index >= 1) ``region`` overlaps, with the overlapping part of each."""
    overlaps = []
    for monitor in monitors:
        if monitor.index == 0:
            continue
        part = region.intersection(monitor.rect)
        if part is not None:
            overlaps.append((monitor, part))
    return overlaps


def plan_region(region: Rect, monitors: Sequence[MonitorInfo]) -> tuple[MonitorInfo, tuple[str, ...]]:
    """Check ``region`` against the desktop; return the monitor to record for it and notes.

    A region inside one monitor records that monitor. One spanning several records the whole
    desktop (index 0) with the largest device-pixel ratio among them, and says so in the notes,
    as it does for monitors of mixed scale and for parts that lie on no monitor (dead corners of
    an uneven layout, which capture as black). Raises :class:`CaptureError` for an empty region,
    one reaching outside the desktop, or one on no monitor at all.
    """
    if region.width <= 0 or region.height <= 0:
        raise CaptureError(f"the region {region.describe()} is empty; give it a positive width and height")
    desktop = next((m for m in monitors if m.index == 0), None)
    if desktop is None:
        raise CaptureError("the desktop reports no monitors; is a screen connected and switched on?")
    if not desktop.rect.contains(region):
        raise CaptureError(
            f"the region {region.describe()} reaches outside the desktop, which is "
            f"{desktop.rect.describe()}; choose a region inside it"
        )
    overlaps = monitors_overlapping(region, monitors)
    if not overlaps:
        raise CaptureError(
            f"the region {region.describe()} lies on no monitor (a gap in the monitor layout); "
            "choose a region on a screen"
        )
    notes: list[str] = []
    covered = sum(part.area for _, part in overlaps)
    if covered < region.area:
        notes.append("part of the region lies on no monitor and shows black")
    if len(overlaps) == 1:
        return overlaps[0][0], tuple(notes)
    indices = ", ".join(str(m.index) for m, _ in overlaps)
    notes.insert(0, f"region spans monitors {indices}")
    scales = sorted({m.scale for m, _ in overlaps})
    if len(scales) > 1:
        notes.append("monitors of different scale (" + ", ".join(f"{s:g}" for s in scales) + ")")
    return replace(desktop, scale=max(scales)), tuple(notes)


def _clean_name(name: str) -> str | None:
    cleaned = "".join(c for c in name if c.isprintable()).strip()[:_MAX_NAME_CHARS]
    return cleaned or None


def _as_rect(region: _RectLike | tuple[int, int, int, int]) -> Rect:
    if isinstance(region, tuple):
        if len(region) != 4:
            raise CaptureError(f"a region is (left, top, width, height); got {region!r}")
        left, top, width, height = region
    else:
        left, top, width, height = region.left, region.top, region.width, region.height
    return Rect(int(left), int(top), int(width), int(height))


# ---------------------------------------------------------------- environment checks
# The X libraries mss loads, by the name it asks ``ctypes.util.find_library`` for, and their
# sonames: the ABI versions every Linux and BSD distribution has shipped for well over a decade.
X_LIBRARY_SONAMES: Final = {
    "X11": "libX11.so.6",
    "Xfixes": "libXfixes.so.3",
    "Xrandr": "libXrandr.so.2",
    "xcb": "libxcb.so.1",
    "xcb-randr": "libxcb-randr.so.0",
    "xcb-render": "libxcb-render.so.0",
    "xcb-shm": "libxcb-shm.so.0",
    "xcb-xfixes": "libxcb-xfixes.so.0",
}


def find_x_library(name: str, fallback: Callable[[str], str | None]) -> str | None:
    """The soname of X library ``name`` when the dynamic loader opens it, else ``fallback(name)``.

    ``ctypes.util.find_library`` runs ``ldconfig -p`` (a process) on every call on Linux, and mss
    calls it eight times when it is imported and opens the screen: about 18 ms of a command-line
    capture. Opening a known soname asks the loader directly, as mss itself then does.
    """
    soname = X_LIBRARY_SONAMES.get(name)
    if soname is not None and sys.platform.startswith(("linux", "freebsd")):
        import ctypes

        try:
            ctypes.CDLL(soname)
        except OSError:
            pass  # not installed under its usual soname: ask the slow way
        else:
            return soname
    return fallback(name)


_soname_swap_lock = threading.Lock()
_soname_swap_users = 0
_real_find_library: Any = None  # ctypes.util.find_library while it is swapped


@contextlib.contextmanager
def _x_libraries_by_soname() -> Iterator[None]:
    """While mss is imported and opened, ``ctypes.util.find_library`` answers the X libraries by soname.

    mss looks its libraries up with ``ctypes.util.find_library`` (the module attribute, or a
    name bound from it when ``mss.linux.xlib`` is imported), so the lookup is swapped while
    capturers open (on any thread) and put back when the last of them is done; any other name,
    and an X library not found by its soname, go to the real function. (The lasting fix belongs
    in mss: try the soname before find_library.)
    """
    global _soname_swap_users, _real_find_library
    import ctypes.util

    with _soname_swap_lock:
        if _soname_swap_users == 0:
            real = _real_find_library = ctypes.util.find_library
            ctypes.util.find_library = lambda name: find_x_library(name, real)
        _soname_swap_users += 1
    try:
        yield
    finally:
        with _soname_swap_lock:
            _soname_swap_users -= 1
            if _soname_swap_users == 0 and _real_find_library is not None:
                ctypes.util.find_library = _real_find_library


def _is_wayland_session(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"


def diagnose_unavailable(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why capture cannot even be tried in this environment, or None if it can be."""
    if not platform.startswith("linux") and not platform.startswith("freebsd"):
        return None
    if environ.get("DISPLAY"):
        return None
    if _is_wayland_session(environ):
        return "this is a Wayland session with no X11 display (DISPLAY is unset): " + PORTAL_HINT
    return (
        "no X display: DISPLAY is not set. Run ShowDesk inside the desktop session, or set DISPLAY "
        "(for example DISPLAY=:0) to the X server whose screen should be captured"
    )


def _macos_screen_recording_allowed() -> bool | None:  # pragma: no cover - only runs on macOS
    """CGPreflightScreenCaptureAccess (macOS 10.15+): False when captures would show only the wallpaper.

    None when the answer is unknown (older macOS, CoreGraphics not loadable).
    """
    import ctypes
    import ctypes.util

    path = ctypes.util.find_library("CoreGraphics")
    if path is None:
        return None
    try:
        preflight = ctypes.CDLL(path).CGPreflightScreenCaptureAccess
    except (OSError, AttributeError):
        return None
    preflight.argtypes = []
    preflight.restype = ctypes.c_bool
    return bool(preflight())


_MACOS_PERMISSION_MESSAGE: Final = (
    "macOS has not given this app Screen Recording permission, so a capture would show only the "
    "desktop wallpaper. Allow it in System Settings > Privacy & Security > Screen Recording, then "
    "quit and reopen the app"
)


def _looks_blank(pixels: memoryview, bytes_per_pixel: int) -> bool:
    """Every pixel the same colour (what XWayland hands out for a Wayland desktop)."""
    raw = pixels.tobytes()
    return bool(raw) and raw == raw[:bytes_per_pixel] * (len(raw) // bytes_per_pixel)


# ---------------------------------------------------------------- the capturer
ScaleLookup = Callable[[MonitorInfo], float | None]


class Capturer:
    """Captures screens with one long-lived mss instance, owned by the thread that made it.

    ``display`` is the X display to capture (":0"); by default the one in ``environ``'s
    ``DISPLAY``. ``environ`` (default ``os.environ``) is what the environment checks read: pass a
    mapping to check another environment without changing the process's own.
    ``scale_of`` may supply a monitor's device-pixel ratio where the desktop does not report it
    to mss (X11 and Windows): the GUI can answer from ``QScreen.devicePixelRatio()``.

    Use it as a context manager, or call :meth:`close`. After a monitor is plugged in or a screen
    is resized, call :meth:`refresh` (a grab that fails on a stale layout refreshes once by itself).

    In a Wayland session (and no explicit ``display``), capture goes through XWayland, which shows
    only X11 windows: a blank result raises :class:`CaptureError` pointing to the desktop portal,
    and other shots carry a note saying Wayland windows may be missing.
    """

    def __init__(
        self,
        display: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        scale_of: ScaleLookup | None = None,
    ) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._display = display
        self._scale_of = scale_of
        self._owner = threading.get_ident()
        self._owner_name = threading.current_thread().name
        self._grab_scales: dict[int, float] = {}
        self._sct: Any = None
        self._monitors: list[MonitorInfo] | None = None
        # Only the session's own display can be XWayland; an explicitly named one is taken as it is.
        self._through_xwayland = (
            display is None and sys.platform.startswith("linux") and _is_wayland_session(self._environ)
        )
        self._open()

    # ------------------------------------------------------------ lifecycle
    def _open(self) -> None:
        problem = None if self._display else diagnose_unavailable(self._environ)
        if problem:
            raise CaptureError(problem)
        if sys.platform == "darwin" and _macos_screen_recording_allowed() is False:  # pragma: no cover
            raise CaptureError(_MACOS_PERMISSION_MESSAGE)
        with _x_libraries_by_soname():
            try:
                import mss
            except ImportError as exc:  # pragma: no cover - mss is a dependency
                raise CaptureError(f"the screen capture library (mss) cannot be loaded: {exc}") from exc
            kwargs: dict[str, Any] = {}
            if sys.platform.startswith(("linux", "freebsd")):
                kwargs["display"] = self._display or self._environ.get("DISPLAY")
            try:
                self._sct = mss.MSS(**kwargs)
            except Exception as exc:  # every backend failure becomes one clear error
                raise CaptureError(self._explain_open_failure(exc)) from exc
        self._monitors = None

    def _explain_open_failure(self, exc: Exception) -> str:
        display = self._display or self._environ.get("DISPLAY", "")
        if sys.platform.startswith(("linux", "freebsd")):
            if _is_wayland_session(self._environ) and not self._display:
                return (
                    f"cannot connect to the X display {display!r} of this Wayland session "
                    f"(XWayland is off or refuses clients: {exc}); " + PORTAL_HINT
                )
            return (
                f"cannot connect to the X display {display!r} ({exc}); check that the X server is running "
                "and that this user may connect to it (DISPLAY, XAUTHORITY)"
            )
        return f"the screen cannot be captured on this system: {exc}"

    def close(self) -> None:
        if self._sct is not None:
            self._sct.close()
            self._sct = None

    def __enter__(self) -> Capturer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def refresh(self) -> None:
        """Re-read the monitor layout (after a monitor was plugged in or a screen resized)."""
        self._check_thread()
        self.close()
        self._grab_scales.clear()
        self._open()

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise CaptureError(
                f"this Capturer belongs to thread {self._owner_name!r} and was called from "
                f"{threading.current_thread().name!r}; screen capture handles are bound to the thread "
                "that opened them, so create one Capturer in each thread that captures"
            )
        if self._sct is None:
            raise CaptureError("this Capturer is closed; create a new one")

    # ------------------------------------------------------------ monitors
    def monitors(self) -> list[MonitorInfo]:
        """All monitors: index 0 is the whole virtual desktop, 1.. the real monitors."""
        self._check_thread()
        if self._monitors is None:
            try:
                raw = self._sct.monitors
            except Exception as exc:  # backend errors are wrapped with their cause
                raise CaptureError(f"cannot read the monitor layout: {exc}") from exc
            if len(raw) < 2:
                raise CaptureError("the desktop reports no monitors; is a screen connected and switched on?")
            self._monitors = monitors_from_mss(raw)
        return [self._with_scale(m) for m in self._monitors]

    def _with_scale(self, monitor: MonitorInfo) -> MonitorInfo:
        scale = self._grab_scales.get(monitor.index)
        if scale is None and self._scale_of is not None:
            scale = self._scale_of(monitor)
        if scale is None or scale == monitor.scale or not 0 < scale <= _MAX_SCALE:
            return monitor  # unknown, unchanged, or not a device-pixel ratio any screen has
        return replace(monitor, scale=scale)

    # ------------------------------------------------------------ capturing
    def capture_all(self) -> list[Shot]:
        """One shot per real monitor, in monitor order."""
        return [self.capture_monitor(monitor.index) for monitor in self.monitors()[1:]]

    def capture_desktop(self) -> Shot:
        """The whole virtual desktop (every monitor) as one image (monitor index 0)."""
        return self.capture_monitor(0)

    def capture_monitor(self, index: int) -> Shot:
        """The monitor with mss index ``index`` (1.. real monitors, 0 the whole desktop)."""
        monitors = self.monitors()
        if not 0 <= index < len(monitors):
            raise CaptureError(
                f"monitor {index} does not exist; this desktop has monitors 1 to {len(monitors) - 1} "
                "(0 is all of them together)"
            )
        monitor = monitors[index]
        return self._grab(monitor.rect, monitor, ())

    def capture_region(self, region: Rect | Geometry | tuple[int, int, int, int]) -> Shot:
        """A rectangle of the virtual desktop (left, top, width, height), possibly across monitors."""
        rect = _as_rect(region)
        monitor, notes = plan_region(rect, self.monitors())
        return self._grab(rect, monitor, notes)

    def _grab(self, rect: Rect, monitor: MonitorInfo, notes: tuple[str, ...]) -> Shot:
        self._check_thread()
        area = {"left": rect.left, "top": rect.top, "width": rect.width, "height": rect.height}
        captured_at = datetime.now(UTC)
        try:
            grabbed = self._sct.grab(area)
        except Exception:  # noqa: BLE001
            # A layout change (resize, hot-plug) invalidates mss's buffers: re-open once and retry.
            try:
                self.refresh()
                grabbed = self._sct.grab(area)
            except CaptureError:
                raise
            except Exception as exc:  # every backend failure becomes one clear error
                raise CaptureError(
                    f"capturing {rect.describe()} failed ({type(exc).__name__}: {exc}); if the screen "
                    "layout just changed, try again"
                ) from exc
        width, height = int(grabbed.width), int(grabbed.height)
        if width != rect.width and rect.width > 0:
            # mss reports a size in pixels when the desktop counts in points (macOS Retina).
            scale = round(width / rect.width, 3)
            self._grab_scales[monitor.index] = scale
            monitor = replace(monitor, scale=scale)
        pixels = memoryview(grabbed.raw).toreadonly()
        if self._through_xwayland:
            if _looks_blank(pixels, 4):
                raise CaptureError(
                    "the capture came back blank: in a Wayland session, XWayland shows only X11 windows; " + PORTAL_HINT
                )
            notes = (*notes, "Wayland session captured through XWayland: windows of Wayland apps may be missing")
        try:
            return Shot(
                pixels=pixels,
                width=width,
                height=height,
                monitor_info=monitor,
                region=rect,
                captured_at=captured_at,
                notes=notes,
            )
        except ValueError as exc:
            raise CaptureError(f"the screen capture library returned a malformed image: {exc}") from exc


def capture_all_monitors(display: str | None = None) -> list[Shot]:
    """One shot per monitor with a short-lived Capturer (for one-off use, such as the command line)."""
    with Capturer(display) as capturer:
        return capturer.capture_all()
