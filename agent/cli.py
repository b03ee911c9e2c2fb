"""The core's command line: everything a person can do in a window, a script can do here.

Exit codes (also in ``showdesk --help``):
  0  done
  1  an unexpected error (a bug: the message says where)
  2  the command line was wrong
  3  queued: the report is safe in the outbox but not yet confirmed by the backend
  4  capture is not possible here (no display, Wayland without the portal, permission)
  5  configuration or credentials need fixing
  6  the backend refused the report for good (dead letter; the reason is printed)
  7  the bundle file is not a valid ShowDesk report
  8  the report could not be kept: the local disk is full or not writable (nothing was queued)
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from enum import IntEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, NamedTuple, TypeVar

from agent import __version__

# The report model, the outbox and the connectors import pydantic and requests; commands
# load them when they need them: `showdesk capture -o` loads neither, and is timed as a
# whole process against scrot (bench/capture.py). Handed to the running agent, it does not
# even load the configuration (dataclasses, platformdirs, tomllib): the agent reads it.
if TYPE_CHECKING:
    from agent.bundle import ReportBundle, ShotBundle
    from agent.capture import Capturer, MonitorInfo
    from agent.config import Config
    from agent.outbox import Outbox
    from agent.sysinfo import PendingSnapshot, SysinfoOptions
    from agent.sysinfo.collect import SnapshotCache
    from agent.sysinfo_process import SysinfoProcess


class _LoggerAtFirstUse:
    """The command line's logger, looked up when something is logged: `showdesk capture` asks the
    running agent before anything is logged, and logging's import (about 5 ms) then runs while
    the agent captures instead of before the request."""

    def __getattr__(self, name: str) -> Any:
        import logging

        return getattr(logging.getLogger("showdesk"), name)


log = _LoggerAtFirstUse()
_T = TypeVar("_T")


class Exit(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    QUEUED = 3
    NO_CAPTURE = 4
    CONFIG = 5
    REFUSED = 6
    BAD_BUNDLE = 7
    NOT_KEPT = 8  # the outbox's disk is full or not writable: the report was not queued


class CommandError(Exception):
    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.code = code


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _setup_logging(level: str) -> None:
    import logging

    class _ScrubbingOnFirstUse(logging.Filter):
        """agent.scrub's filter, loaded with the first record: most commands log nothing, and
        compiling its patterns would hold up `showdesk capture` before the screen is grabbed."""

        def filter(self, record: logging.LogRecord) -> bool:
            from agent.scrub import ScrubbingFilter

            return ScrubbingFilter().filter(record)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ScrubbingOnFirstUse())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def _config(args: argparse.Namespace) -> Config:
    """The configuration for this command, loaded once (the log level and the command read it)."""
    loaded: Config | None = getattr(args, "loaded_config", None)
    if loaded is not None:
        return loaded
    from agent.config import load_config

    overrides: dict[str, Any] = {}
    if getattr(args, "url", None) and args.command != "login":
        overrides["backend.url"] = args.url
    config = load_config(overrides)
    args.loaded_config = config
    return config


def _backend_name(args: argparse.Namespace) -> str | None:
    return getattr(args, "backend", None)


# ---------------------------------------------------------------- capture / submit
def _parse_region(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(part) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("region is X,Y,WIDTH,HEIGHT in pixels, e.g. 0,0,800,600") from exc
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError("region width and height must be positive")
    return x, y, w, h


def _collect_sysinfo(
    config: Config, backend_name: str | None, monitors: list[dict[str, object]], exclude: list[str]
) -> dict[str, Any]:
    from agent import sysinfo

    options = sysinfo.SysinfoOptions.from_config(config, monitors=monitors, backend=backend_name, exclude=exclude)
    return sysinfo.collect(options)


class _Background(threading.Thread, Generic[_T]):
    """``function(*args)`` on a side thread; :meth:`result` waits for it and returns or raises."""

    def __init__(self, function: Callable[..., _T], *args: object) -> None:
        super().__init__(name="showdesk-background", daemon=True)
        self._call = partial(function, *args)
        self._value: list[_T] = []
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._value.append(self._call())
        except BaseException as exc:  # noqa: BLE001 - re-raised by result() in the caller's thread
            self._error = exc

    def result(self) -> _T:
        self.join()
        if self._error is not None:
            raise self._error
        return self._value[0]


class _SysinfoStarter(threading.Thread):
    """Imports agent.sysinfo and starts a snapshot on a side thread, so the main thread can open
    the screen meanwhile. Only the CPU sampling starts at once; the other collectors wait for
    :meth:`release`, called once the frame is encoding (the encoder leaves the GIL free)."""

    def __init__(self, config: Config, backend_name: str | None, exclude: list[str]) -> None:
        super().__init__(name="sysinfo-start", daemon=True)
        self._config, self._backend_name, self._exclude = config, backend_name, exclude
        self._hold = threading.Event()
        self._pending: PendingSnapshot | None = None
        self._error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            from agent import sysinfo

            # The shortest honest CPU sampling window (recorded in the snapshot): it runs while
            # the screen is grabbed, and a capture should not wait for it.
            options = sysinfo.SysinfoOptions.from_config(
                self._config,
                backend=self._backend_name,
                exclude=self._exclude,
                sample_seconds=sysinfo.MIN_SAMPLE_SECONDS,
            )
            self._pending = sysinfo.start(options, hold=self._hold)
        except Exception as exc:  # noqa: BLE001 - handed to the main thread by result()
            self._error = exc

    def release(self) -> None:
        """Let the collectors other than the CPU sampling run (the main thread is encoding)."""
        self._hold.set()

    def result(self, monitors: Sequence[MonitorInfo]) -> dict[str, object]:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._pending is not None
        return self._pending.result([m.facts() for m in monitors])


class _SysinfoBeside:
    """The snapshot of a capture made by this process, collected by a helper process on the
    machine's other core (agent.sysinfo_process says why); the same interface as
    ``_SysinfoStarter``. If the helper cannot start, or fails, the snapshot is collected here
    instead (later, never lost)."""

    def __init__(self, process: SysinfoProcess, config: Config, backend_name: str | None, exclude: list[str]) -> None:
        self._process = process
        self._config, self._backend_name, self._exclude = config, backend_name, exclude

    @classmethod
    def start(
        cls, config: Config, backend_name: str | None, exclude: list[str], started: SysinfoProcess | None = None
    ) -> _SysinfoBeside | _SysinfoStarter:
        """``started`` is a helper the launcher started already with these options (from the same
        configuration); without it one is started now, and without a helper a thread collects."""
        from agent.sysinfo_process import CAPTURE_SAMPLE_SECONDS, SysinfoProcess, SysinfoProcessError, options_spec

        if started is not None:
            return cls(started, config, backend_name, exclude)
        spec = options_spec(config, backend=backend_name, exclude=exclude, sample_seconds=CAPTURE_SAMPLE_SECONDS)
        try:
            return cls(SysinfoProcess.for_options(spec), config, backend_name, exclude)
        except SysinfoProcessError as exc:
            log.info("collecting system information in this process: %s", exc)
            return _SysinfoStarter(config, backend_name, exclude)

    def opened(self, monitors: Sequence[MonitorInfo]) -> None:
        """The screen is open: the helper builds the displays group from its monitors meanwhile."""
        self._process.send_monitors([m.facts() for m in monitors])

    def release(self) -> None:
        """Nothing is held back: the helper does not share this process's interpreter lock."""

    def result(self, monitors: Sequence[MonitorInfo]) -> dict[str, object]:
        from agent.sysinfo_process import SysinfoProcessError

        facts = [m.facts() for m in monitors]
        try:
            return self._process.result(facts, bound_seconds=float(self._config.get("sysinfo.timeout")))
        except SysinfoProcessError as exc:
            log.warning("the system-information helper failed (%s); collecting it in this process", exc)
        return _collect_sysinfo(self._config, self._backend_name, facts, self._exclude)

    def close(self) -> None:
        self._process.close()


# The command line's environment that decides what a capture holds: the screen it grabs and the
# configuration it reads. The running agent takes a capture over only when its own is the same.
_CAPTURE_ENVIRONMENT_PREFIXES: Final = ("SHOWDESK_",)
_CAPTURE_ENVIRONMENT_NAMES: Final = ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "WAYLAND_DISPLAY")
# One line of JSON on the agent's socket (agent.laptop.instance_client bounds it): a description
# of MAX_DESCRIPTION_CHARS fits with room to spare even when every character is escaped.
AgentCapture = Callable[[dict[str, Any]], "tuple[dict[str, Any], bytes] | None"]


def capture_environment(environ: Mapping[str, str], display: str | None) -> dict[str, str]:
    """What of ``environ`` a capture depends on, with the X display it grabs."""
    chosen = {
        name: value
        for name, value in environ.items()
        if name in _CAPTURE_ENVIRONMENT_NAMES or name.startswith(_CAPTURE_ENVIRONMENT_PREFIXES)
    }
    chosen["DISPLAY"] = display or ""
    return dict(sorted(chosen.items()))


class CaptureRequest(NamedTuple):
    """What `showdesk capture` was asked for: captured here, or handed to the running agent as JSON.

    A named tuple, not a dataclass: the command line builds one before anything else and
    dataclasses costs its import (inspect) in the whole-process time."""

    monitor: int | None = None
    region: tuple[int, int, int, int] | None = None
    format: str | None = None
    caption: str = ""
    description: str = ""
    category: str = ""
    name: str | None = None
    email: str | None = None
    sysinfo: bool = True
    exclude: tuple[str, ...] = ()
    backend: str | None = None
    environment: tuple[tuple[str, str], ...] = ()  # capture_environment's items, sorted

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> CaptureRequest:
        return cls(
            monitor=args.monitor,
            region=args.region,
            format=args.format,
            caption=args.caption,
            description=args.description or "",
            category=args.category or "",
            name=args.name,
            email=args.email,
            sysinfo=not args.no_sysinfo,
            exclude=tuple(args.exclude),
            backend=_backend_name(args),
            environment=tuple(capture_environment(environ, environ.get("DISPLAY")).items()),
        )

    def to_wire(self) -> dict[str, Any]:
        wire = self._asdict()
        wire["region"] = list(self.region) if self.region else None
        wire["exclude"] = list(self.exclude)
        wire["environment"] = dict(self.environment)
        return wire

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CaptureRequest:
        """The request from another process's JSON; ValueError naming what is wrong (nothing is trusted)."""

        def text(key: str, *, optional: bool = False) -> Any:
            value = data.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise ValueError(f"{key} must be text")
            return value

        monitor, region, sysinfo = data.get("monitor"), data.get("region"), data.get("sysinfo")
        if monitor is not None and (not isinstance(monitor, int) or isinstance(monitor, bool)):
            raise ValueError("monitor must be a number")
        if region is not None and not (
            isinstance(region, list)
            and len(region) == 4
            and all(isinstance(n, int) and not isinstance(n, bool) for n in region)
        ):
            raise ValueError("region must be four numbers")
        exclude, environment = data.get("exclude"), data.get("environment")
        if not isinstance(exclude, list) or not all(isinstance(g, str) for g in exclude):
            raise ValueError("exclude must be a list of group names")
        if not isinstance(environment, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
        ):
            raise ValueError("environment must map names to text")
        if not isinstance(sysinfo, bool):
            raise ValueError("sysinfo must be true or false")
        return cls(
            monitor=monitor,
            region=(region[0], region[1], region[2], region[3]) if region is not None else None,
            format=text("format", optional=True),
            caption=text("caption"),
            description=text("description"),
            category=text("category"),
            name=text("name", optional=True),
            email=text("email", optional=True),
            sysinfo=sysinfo,
            exclude=tuple(exclude),
            backend=text("backend", optional=True),
            environment=tuple(sorted(environment.items())),
        )


def capture_sysinfo_options(config: Config, request: CaptureRequest) -> SysinfoOptions | None:
    """The options `showdesk capture` collects with (as ``_SysinfoStarter`` builds them); None
    when they are invalid (an unknown group): the capture's own starter then says so."""
    from agent import sysinfo

    try:
        return sysinfo.SysinfoOptions.from_config(
            config, backend=request.backend, exclude=list(request.exclude), sample_seconds=sysinfo.MIN_SAMPLE_SECONDS
        )
    except ValueError:
        return None


def capture_bundle(
    request: CaptureRequest,
    config: Config,
    capturer_context: Callable[[], AbstractContextManager[Capturer]],
    *,
    delay: float = 0.0,
    warm: SnapshotCache | None = None,
    while_encoding: Callable[[], object] | None = None,
    sysinfo_helper: SysinfoProcess | None = None,
) -> tuple[ShotBundle, int]:
    """Grab, encode and bundle as ``request`` asks: the one recipe of `showdesk capture`, whether
    this process captures or the running agent does it with its warm capturer (the same bundle
    either way). ``capturer_context`` opens a capturer (or lends one). Returns the bundle and its
    number of shots; raises CommandError.

    With ``warm`` (the agent's), a snapshot it holds that is fresh for this request's options and
    the screen's monitors goes into the bundle instead of a new one; otherwise one is collected
    beside the capture as here, and kept in ``warm`` for the next.

    ``while_encoding`` runs on this thread once the encoder works (the command line sets up its
    logging there: nothing before it logs, and its import would otherwise delay the encoder).

    ``sysinfo_helper`` is a system-information helper process the launcher started for this
    request (agent.sysinfo_process); this function takes it over (uses it or ends it)."""
    if sysinfo_helper is not None and (not request.sysinfo or warm is not None):
        sysinfo_helper.close()
        sysinfo_helper = None
    from agent import capture, encoding

    try:
        if request.backend:
            config.backend(request.backend)  # an unknown backend fails before the screen is grabbed
        try:
            fmt = encoding.ImageFormat.parse(request.format or config.get("capture.format"))
        except ValueError as exc:
            raise CommandError(str(exc), Exit.USAGE) from exc
    except BaseException:
        if sysinfo_helper is not None:
            sysinfo_helper.close()  # nothing will be collected: the helper's work is not wanted
        raise
    # System information mostly waits (CPU sampling, connectivity): it starts first and
    # waits while this thread opens the screen, grabs and encodes.
    # Without a cache (this process captures once) a helper process collects it on the other
    # core (started by the launcher already, or now); the agent's capturer is open already, and
    # its monitors pick the cached snapshot.
    starter: _SysinfoStarter | _SysinfoBeside | None = None
    if request.sysinfo and warm is None:
        starter = _SysinfoBeside.start(config, request.backend, list(request.exclude), sysinfo_helper)
    cached: dict[str, object] | None = None
    started = 0.0
    warm_options = capture_sysinfo_options(config, request) if warm is not None and request.sysinfo else None
    try:
        with capturer_context() as capturer:
            monitors = capturer.monitors()[1:]
            if isinstance(starter, _SysinfoBeside):
                starter.opened(monitors)
            if warm is not None and request.sysinfo:
                if warm_options is not None:
                    cached = warm.fresh(warm_options, [m.facts() for m in monitors])
                if cached is None:
                    started = warm.now()
                    starter = _SysinfoStarter(config, request.backend, list(request.exclude))
            if delay:
                if starter is not None:
                    starter.release()  # nothing to keep off this thread's path while it waits
                time.sleep(delay)
            if request.region:
                shots = [capturer.capture_region(request.region)]
            elif request.monitor is not None:
                shots = [capturer.capture_monitor(request.monitor)]
            else:
                shots = capturer.capture_all()
    except capture.CaptureError as exc:
        if isinstance(starter, _SysinfoBeside):
            starter.close()
        raise CommandError(str(exc), Exit.NO_CAPTURE) from exc
    # The encoder releases the GIL once it is inside Pillow's C code; what comes before (Pillow's
    # import, the pixels' conversion) is Python and runs here, before the system-information
    # collectors are released, so they cannot hold the encoder back.
    pictures = [shot.image() for shot in shots]
    encoder = _Background(encoding.encode_all, pictures, fmt)
    if starter is not None:
        starter.release()
    if while_encoding is not None:
        while_encoding()
    host = _host_name()  # socket's import, while the encoder works
    from agent.bundle import BundleError, ShotStep, shot_bundle
    from agent.report_format import MAX_SHORT_TEXT_CHARS

    try:
        snapshot = starter.result(monitors) if starter is not None else cached
    except ValueError as exc:  # an unknown system-information group
        raise CommandError(str(exc), Exit.USAGE) from exc
    if warm is not None and warm_options is not None and starter is not None and snapshot is not None:
        warm.put(warm_options, [m.facts() for m in monitors], snapshot, started)
    images = encoder.result()
    steps = [
        ShotStep(
            image=image.data,
            width=image.width,
            height=image.height,
            captured_at=shot.captured_at,
            monitor=shot.monitor_info.facts(),
            caption=request.caption,
            capture_method=shot.capture_method,
            capture_notes=shot.notes_text[:MAX_SHORT_TEXT_CHARS],
        )
        for shot, image in zip(shots, images, strict=True)
    ]
    try:
        bundle = shot_bundle(
            steps,
            source_kind="cli",
            source_id=host,
            app_version=__version__,
            reporter_name=request.name,
            reporter_email=request.email,
            category=request.category,
            description=request.description,
            sysinfo=snapshot,
        )
    except BundleError as exc:
        raise CommandError(str(exc), Exit.USAGE) from exc
    return bundle, len(steps)


def _host_name() -> str:
    """The machine's name, as a report's source id carries it."""
    import socket  # loaded where needed: the capture is timed as a whole process

    return socket.gethostname()[:200] or "unknown"


def _hand_to_agent(args: argparse.Namespace, agent_capture: AgentCapture | None) -> tuple[dict[str, Any], bytes] | None:
    """The running agent's capture for these arguments (its header and bundle), or None.

    Runs before the configuration is read: the agent reads its own (the same files: it declines
    a command line whose environment would read others). After a ``--delay`` spent here, the
    arguments' delay is zero, so a capture made here after all does not wait twice."""
    if agent_capture is None or args.no_agent or args.clip is not None or args.fps is not None:
        return None  # the agent's hand-off makes still shots: a clip is recorded here
    import os

    if args.delay:
        time.sleep(args.delay)
        args.delay = 0.0
    return agent_capture(CaptureRequest.from_args(args, os.environ).to_wire())


class _SnapshotWhenRead(Mapping[str, object]):
    """System information collected on a side thread, waited for only when the report is built:
    a clip starts recording at once and the snapshot is taken meanwhile."""

    def __init__(self, collecting: _Background[dict[str, Any]]) -> None:
        self._collecting = collecting

    def __getitem__(self, key: str) -> object:
        return self._collecting.result()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._collecting.result())

    def __len__(self) -> int:
        return len(self._collecting.result())


def clip_bundle(args: argparse.Namespace, config: Config) -> tuple[ReportBundle, str]:
    """Record ``args.clip`` seconds of the screen into a report (always in this process: the
    running agent's capture hand-off makes still shots only). Returns the bundle and a line
    describing the clip; raises CommandError."""
    from agent.clips.recorder import DEFAULT_FPS, MAX_FPS, MAX_SECONDS
    from agent.clips.recording import ClipError
    from agent.clips.to_bundle import record_clip_to_bundle

    if args.format:
        raise CommandError("--format is the still shots' format; a clip is always an animated WebP", Exit.USAGE)
    fps = DEFAULT_FPS if args.fps is None else args.fps
    if not 0 < args.clip <= MAX_SECONDS:
        raise CommandError(f"--clip is a length in seconds above 0 and at most {MAX_SECONDS:g}", Exit.USAGE)
    if not 0 < fps <= MAX_FPS:
        raise CommandError(f"--fps is a frame rate above 0 and at most {MAX_FPS:g} a second", Exit.USAGE)
    backend = _backend_name(args)
    if backend:
        config.backend(backend)  # an unknown backend fails before the recording
    snapshot: Mapping[str, object] | None = None
    if not args.no_sysinfo:
        from agent import sysinfo

        try:  # the options check the group names: a mistake is told before anything is recorded
            options = sysinfo.SysinfoOptions.from_config(config, backend=backend, exclude=list(args.exclude))
        except ValueError as exc:
            raise CommandError(str(exc), Exit.USAGE) from exc
        snapshot = _SnapshotWhenRead(_Background(sysinfo.collect, options))
    if args.delay:
        time.sleep(args.delay)
    try:
        bundle = record_clip_to_bundle(
            args.clip,
            monitor=args.monitor,
            region=args.region,
            fps=fps,
            caption=args.caption,
            description=args.description or "",
            category=args.category or "",
            reporter_name=args.name,
            reporter_email=args.email,
            source_kind="cli",
            source_id=_host_name(),
            app_version=__version__,
            sysinfo=snapshot,
        )
    except ClipError as exc:
        raise CommandError(str(exc), Exit.NO_CAPTURE) from exc
    [clip] = bundle.report.clips
    return bundle, f"a clip of {clip.duration_ms / 1000:.1f} s ({clip.frames} frame(s))"


def cmd_capture(args: argparse.Namespace) -> Exit:
    import os

    if args.clip is not None:
        _start_logging(args)
        return _capture_clip(args)
    if args.fps is not None:
        raise CommandError("--fps is the frame rate of a --clip", Exit.USAGE)
    # main() asked the running agent first (the agent grabs with its warm capturer and encoder).
    handed: tuple[dict[str, Any], bytes] | None = getattr(args, "handed", None)
    if handed is None:  # no agent, or it declined: the same recipe here
        from agent import capture

        request = CaptureRequest.from_args(args, os.environ)
        helper: SysinfoProcess | None = getattr(args, "sysinfo_helper", None)
        try:
            config = _config(args)
        except BaseException:
            if helper is not None:
                helper.close()
            raise
        # Logging is set up while the encoder works: nothing logs before, and logging's import
        # would otherwise come before the grab. Writing the agent's bundle logs nothing.
        bundle, step_count = capture_bundle(
            request,
            config,
            capture.Capturer,
            delay=args.delay,
            while_encoding=partial(_start_logging, args),
            sysinfo_helper=helper,
        )
        data, report_id = bundle.data, str(bundle.report_id)
    else:
        header, data = handed
        report_id, step_count = str(header.get("report_id", "")), int(header.get("steps", 0))
    if args.output:
        from agent.fsutil import atomic_write_bytes

        atomic_write_bytes(Path(args.output), data)
        if args.json:
            captured_by = "cli" if handed is None else "agent"
            _print_json({"report_id": report_id, "file": args.output, "steps": step_count, "captured_by": captured_by})
        else:
            print(f"saved {step_count} shot(s) to {args.output}")
        return Exit.OK
    from agent.bundle import BundleError, ReportBundle

    _start_logging(args)
    config = _config(args)
    try:
        # The outbox takes the schema's model; reading the bytes back validates them with it
        # (bytes from the agent's socket included).
        report = ReportBundle.from_bytes(data)
    except BundleError as exc:
        raise CommandError(f"the capture is not a valid report: {exc}", Exit.BAD_BUNDLE) from exc
    return _submit_through_outbox(config, report, config.backend(_backend_name(args)).name, args)


def _capture_clip(args: argparse.Namespace) -> Exit:
    config = _config(args)
    bundle, described = clip_bundle(args, config)
    if args.output:
        from agent.fsutil import atomic_write_bytes

        atomic_write_bytes(Path(args.output), bundle.to_bytes())
        if args.json:
            clip = bundle.report.clips[0]
            _print_json(
                {
                    "report_id": str(bundle.report.id),
                    "file": args.output,
                    "clips": 1,
                    "frames": clip.frames,
                    "duration_ms": clip.duration_ms,
                    "captured_by": "cli",
                }
            )
        else:
            print(f"saved {described} to {args.output}")
        return Exit.OK
    return _submit_through_outbox(config, bundle, config.backend(_backend_name(args)).name, args)


def _open_outbox(config: Config) -> Outbox:
    from agent.outbox import Outbox

    return Outbox(config.outbox_dir)


def _submit_through_outbox(config: Config, bundle: ReportBundle, backend_name: str, args: argparse.Namespace) -> Exit:
    from agent.outbox import OutboxError, OutboxStorageError

    outbox = _open_outbox(config)
    try:
        entry = outbox.put(bundle, backend_name)
    except OutboxStorageError as exc:
        raise CommandError(f"the report could not be kept: {exc}", Exit.NOT_KEPT) from exc
    except OutboxError as exc:
        # The one other refusal of put: a different report already queued under this id.
        raise CommandError(f"the report could not be queued: {exc}", Exit.BAD_BUNDLE) from exc
    result = outbox.deliver_now(entry.id, deadline=time.monotonic() + args.wait)
    payload: dict[str, Any] = {"report_id": str(bundle.report.id), "state": result.state}
    if result.receipt is not None:
        payload.update(ticket=result.receipt.ticket.model_dump(mode="json"))
        message = f"ticket {result.receipt.ticket.number} created: {result.receipt.ticket.url}"
        code = Exit.OK
    elif result.state == "dead":
        payload["reason"] = result.reason
        message = f"the backend refused the report: {result.reason}"
        code = Exit.REFUSED
    elif result.state == "attention":
        payload["reason"] = result.reason
        message = (
            f"the report is kept in the outbox but needs attention: {result.reason} "
            f"(see `showdesk outbox list`; `showdesk outbox retry {bundle.report.id}` sends it again)"
        )
        code = Exit.QUEUED
    else:
        payload["reason"] = result.reason
        message = (
            f"saved in the outbox; it will be sent when {backend_name} is reachable "
            f"(`showdesk outbox flush` sends now). Last attempt: {result.reason}"
        )
        code = Exit.QUEUED
    if args.json:
        _print_json(payload)
    else:
        print(message)
    return code


def cmd_submit(args: argparse.Namespace) -> Exit:
    from agent.bundle import BundleError, ReportBundle

    config = _config(args)
    backend = config.backend(_backend_name(args))
    try:
        bundle = ReportBundle.read(Path(args.file))
    except BundleError as exc:
        raise CommandError(str(exc), Exit.BAD_BUNDLE) from exc
    return _submit_through_outbox(config, bundle, backend.name, args)


# ---------------------------------------------------------------- outbox
def cmd_outbox(args: argparse.Namespace) -> Exit:
    config = _config(args)
    outbox = _open_outbox(config)
    action = args.action or "list"
    if action == "list":
        entries = outbox.list()
        receipts = outbox.receipts()
        if args.json:
            _print_json({"entries": [e.as_dict() for e in entries], "receipts": [r.as_dict() for r in receipts]})
            return Exit.OK
        if not entries:
            print("outbox is empty")
        for entry in entries:
            print(entry.describe())
        for receipt in receipts[:10]:  # newest first
            print(receipt.describe())
        return Exit.OK
    if action in ("retry", "purge") and not args.id:
        raise CommandError(f"`showdesk outbox {action}` needs the report id (see `showdesk outbox list`)", Exit.USAGE)
    if action in ("retry", "purge"):
        return _change_entry(outbox, action, args.id)
    # flush
    # A person asking to flush means now, not after the backoff.
    results = outbox.flush(deadline=time.monotonic() + args.wait, force=True)
    if args.json:
        _print_json([r.as_dict() for r in results])
    for result in results:
        if not args.json:
            print(result.describe())
    if any(r.state == "dead" for r in results):
        return Exit.REFUSED
    # Reports needing attention are kept, not delivered: "queued" until a person retries them.
    return Exit.QUEUED if outbox.list(states=("pending", "attention")) else Exit.OK


def _change_entry(outbox: Outbox, action: str, entry_id: str) -> Exit:
    from agent.outbox import OutboxBusyError, OutboxStorageError, UnknownEntryError

    try:
        if action == "retry":
            outbox.retry(entry_id)
            print(f"{entry_id} will be sent on the next attempt")
        else:
            outbox.purge(entry_id)
            print(f"{entry_id} removed from the outbox")
    except UnknownEntryError as exc:
        raise CommandError(f"{exc} (see `showdesk outbox list`)", Exit.USAGE) from exc
    except OutboxBusyError as exc:
        # It is in the outbox and being sent: the same as a report still queued.
        raise CommandError(str(exc), Exit.QUEUED) from exc
    except OutboxStorageError as exc:
        raise CommandError(str(exc), Exit.NOT_KEPT) from exc
    return Exit.OK


# ---------------------------------------------------------------- export
def cmd_export(args: argparse.Namespace) -> Exit:
    from agent.bundle import BundleError
    from agent.export_html import export_bundle_file

    source, output = Path(args.html), Path(args.output)
    try:
        export_bundle_file(source, output)
    except BundleError as exc:
        said = str(exc)
        raise CommandError(said if str(source) in said else f"{source}: {said}", Exit.BAD_BUNDLE) from exc
    except OSError as exc:
        # Reading the bundle raises BundleError only: an OSError is the page that could not be written.
        raise CommandError(f"could not write {output}: {exc.strerror or exc}", Exit.NOT_KEPT) from exc
    if args.json:
        _print_json({"file": str(output), "bytes": output.stat().st_size})
    else:
        print(f"saved the report as a web page to {output}")
    return Exit.OK


# ---------------------------------------------------------------- notify
def cmd_notify(args: argparse.Namespace) -> Exit:
    from agent.notify.admin import run_notify

    config = _config(args)
    return Exit(run_notify(config, args.action or "list", args.name, as_json=args.json))


# ---------------------------------------------------------------- sysinfo
def cmd_sysinfo(args: argparse.Namespace) -> Exit:
    config = _config(args)
    from agent import sysinfo

    try:
        snapshot = _collect_sysinfo(config, _backend_name(args), [], args.exclude)
    except ValueError as exc:  # an unknown group name
        raise CommandError(str(exc), Exit.USAGE) from exc
    if args.json:
        _print_json(snapshot)
    else:
        print(sysinfo.format_text(snapshot))
    return Exit.OK


# ---------------------------------------------------------------- login
def _read_token(args: argparse.Namespace, prompt: str) -> str:
    """The token from standard input or a terminal prompt: never an argument, which `ps` shows."""
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        import getpass

        token = getpass.getpass(prompt).strip()
    else:
        raise CommandError("no terminal to ask for the token: pass it on standard input with --token-stdin", Exit.USAGE)
    if not token:
        raise CommandError("an empty token was given", Exit.USAGE)
    return token


def cmd_login(args: argparse.Namespace) -> Exit:
    from agent.credentials import CredentialError, store_token

    url = args.url.rstrip("/")
    token = _read_token(args, f"{args.role} token for {url}: ")
    try:
        where = store_token(url, token, role=args.role)
    except CredentialError as exc:
        raise CommandError(str(exc), Exit.CONFIG) from exc
    print(f"{args.role} token for {url} stored in the OS keyring ({where})")
    return Exit.OK


def cmd_enrolment(args: argparse.Namespace) -> Exit:
    from agent.enrolment import check_url, make_enrolment_code, make_enrolment_link

    url = args.url.rstrip("/")
    problem = check_url(url, "the help desk address")
    if problem:
        raise CommandError(problem, Exit.USAGE)
    token = _read_token(args, f"submitter token for {url}: ")
    code, link = make_enrolment_code(url, token), make_enrolment_link(url, token)
    if args.json:
        _print_json({"url": url, "code": code, "link": link})
    else:
        print(f"code: {code}\nlink: {link}")
        print("Both carry the token: send them the way you would send a password.", file=sys.stderr)
    return Exit.OK


def cmd_logout(args: argparse.Namespace) -> Exit:
    from agent.credentials import CredentialError, forget_token

    try:
        removed = forget_token(args.url.rstrip("/"), role=args.role)
    except CredentialError as exc:
        raise CommandError(str(exc), Exit.CONFIG) from exc
    print("token removed" if removed else "no token was stored for that address and role")
    return Exit.OK


# ---------------------------------------------------------------- config
def cmd_config(args: argparse.Namespace) -> Exit:
    action = args.action or "show"
    from agent.config import load_config, reference_markdown

    if action == "reference":
        print(reference_markdown(), end="")
        return Exit.OK
    if action == "check":
        paths = [Path(args.file)] if args.file else None
        return _config_check(paths)
    if not args.json:
        # The files come first, before loading: a broken file still shows where it lives (and
        # a person who wants to create the user file learns the path even when it does not exist yet).
        _print_config_files()
    config = load_config()
    if args.json:
        _print_json({key: {"value": v.value, "source": v.source} for key, v in config.values.items()})
        return Exit.OK
    width = max(len(key) for key in config.values)
    for key, value in config.values.items():
        print(f"{key:<{width}}  {value.value!r:<40}  ({value.source})")
    for name in config.backend_names()[1:]:
        backend = config.backend(name)
        print(f"backends.{name}  type={backend.type} url={backend.url}")
    return Exit.OK


def _print_config_files() -> None:
    from agent.config import config_file_locations

    for location in config_file_locations():
        state = "in use" if location.exists else "does not exist; the layer is empty"
        moved = f", set by {location.chosen_by}" if location.chosen_by else ""
        print(f"{location.layer} file: {location.path}  ({state}{moved})")
    print()


def _config_check(paths: list[Path] | None) -> Exit:
    """Check the given files (or the machine-wide and user files that exist); each mistake with its line."""
    from agent.config import check_file, machine_config_path, read_toml, user_config_path

    candidates = paths or [p for p in (machine_config_path(), user_config_path()) if p.exists()]
    problems: list[str] = []
    for path in candidates:
        found = check_file(path)
        problems.extend(found)
        if not found and "kiosk" in read_toml(path):
            print(f"{path}: [kiosk] is checked by `showdesk kiosk --check`")
    for problem in problems:
        print(problem)
    if not problems:
        checked = ", ".join(str(p) for p in candidates) or "no configuration file exists; the defaults apply"
        print(f"configuration is valid ({checked})")
    return Exit.CONFIG if problems else Exit.OK


# ---------------------------------------------------------------- parser
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command`` "capture", that command's alone (what main()
    parses `showdesk capture` with: the other commands' parsers cost a few ms before the capture)."""
    parser = argparse.ArgumentParser(
        prog="showdesk",
        description="Show the help desk the problem: capture screens and system information, and submit them.",
        epilog=__doc__.split("\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"showdesk {__version__}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], Exit], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def add_delivery_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--backend", metavar="NAME", help="a [backends.NAME] from the configuration")
        sub.add_argument(
            "--wait",
            type=float,
            default=20.0,
            metavar="SECONDS",
            help="how long to try delivering before leaving the report queued (default 20)",
        )
        sub.add_argument("--json", action="store_true", help="print the outcome as JSON")

    capture = add("capture", cmd_capture, "Capture the screens and system information into a report.")
    where = capture.add_mutually_exclusive_group()
    where.add_argument("--monitor", type=int, metavar="N", help="only monitor N (1 is the first)")
    where.add_argument("--region", type=_parse_region, metavar="X,Y,W,H", help="a region of the desktop")
    capture.add_argument("--delay", type=float, default=0.0, metavar="SECONDS", help="wait before capturing")
    capture.add_argument(
        "--clip",
        type=float,
        metavar="SECONDS",
        help="record a clip of this many seconds (at most 120) instead of still shots; of --monitor N "
        "(default the first) or --region",
    )
    capture.add_argument(
        "--fps", type=float, default=None, metavar="N", help="--clip: frames a second (default 5, at most 10)"
    )
    capture.add_argument("--description", help="what went wrong")
    capture.add_argument("--category", help="e.g. Printer, Laptop, Can't sign in")
    capture.add_argument("--caption", default="", help="caption for the shot(s)")
    capture.add_argument("--name", help="who is reporting")
    capture.add_argument("--email", help="where the help desk can reach the reporter")
    capture.add_argument("--format", help="default, png, webp-lossless, webp or jpeg")
    capture.add_argument("--no-sysinfo", action="store_true", help="leave system information out")
    capture.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GROUP",
        help="leave one system-information group out (repeatable)",
    )
    target = capture.add_mutually_exclusive_group(required=True)
    target.add_argument("-o", "--output", metavar="FILE.showdesk", help="write a report bundle")
    target.add_argument("--submit", action="store_true", help="send through the outbox")
    target.add_argument(
        "--gui", action="store_true", help="open the agent's report window instead (bind this to a hotkey)"
    )
    capture.add_argument(
        "--no-agent",
        action="store_true",
        help="capture in this process even when the laptop agent runs (by default the agent captures)",
    )
    add_delivery_options(capture)
    if command == "capture":
        return parser

    submit = add("submit", cmd_submit, "Send a report bundle made earlier or elsewhere, through the outbox.")
    submit.add_argument("file", metavar="FILE.showdesk")
    add_delivery_options(submit)

    outbox = add("outbox", cmd_outbox, "Show and work the queue of reports waiting for a backend.")
    outbox.add_argument("action", nargs="?", choices=["list", "retry", "flush", "purge"])
    outbox.add_argument("id", nargs="?", help="report id, for retry and purge")
    outbox.add_argument("--wait", type=float, default=30.0, metavar="SECONDS", help="flush: how long to try")
    outbox.add_argument("--json", action="store_true")

    export = add("export", cmd_export, "Write a report bundle as one self-contained web page, to send by hand.")
    export.add_argument("--html", required=True, metavar="FILE.showdesk", help="the report bundle")
    export.add_argument("-o", "--output", required=True, metavar="FILE.html", help="the page to write")
    export.add_argument("--json", action="store_true")

    notify = add(
        "notify",
        cmd_notify,
        "Show the notification targets and their log, send a test, send what is due, or store a URL or secret.",
    )
    notify.add_argument("action", nargs="?", choices=["list", "test", "log", "flush", "store"])
    notify.add_argument(
        "name", nargs="?", help="test: the target's name; store: the keyring entry (the value comes on standard input)"
    )
    notify.add_argument("--json", action="store_true")

    sysinfo = add("sysinfo", cmd_sysinfo, "Print the system information a report would carry (scrubbed).")
    sysinfo.add_argument("--json", action="store_true")
    sysinfo.add_argument("--backend", metavar="NAME", help="check connectivity to this backend")
    sysinfo.add_argument("--exclude", action="append", default=[], metavar="GROUP")

    login = add("login", cmd_login, "Store a backend token in the OS keyring.")
    login.add_argument("url", help="the backend's address, e.g. https://helpdesk.example.org")
    login.add_argument("--role", default="submitter", choices=["submitter", "technician", "admin", "glpi-app"])
    login.add_argument("--token-stdin", action="store_true", help="read the token from standard input")

    enrol = add(
        "enrolment",
        cmd_enrolment,
        "Make an enrolment code and link (address + token) for `showdesk agent --enrol` or the agent's settings.",
    )
    enrol.add_argument("url", help="the help desk's address the agents should use")
    enrol.add_argument("--token-stdin", action="store_true", help="read the token from standard input")
    enrol.add_argument("--json", action="store_true")

    logout = add("logout", cmd_logout, "Remove a backend token from the OS keyring.")
    logout.add_argument("url")
    logout.add_argument("--role", default="submitter", choices=["submitter", "technician", "admin"])

    config = add("config", cmd_config, "Show, check or document the configuration.")
    config.add_argument("action", nargs="?", choices=["show", "check", "reference"])
    config.add_argument("file", nargs="?", help="check: the file to validate (default: the files in use)")
    config.add_argument("--json", action="store_true")

    commands.add_parser("server", help="Run and manage the built-in ticket server (see `showdesk server --help`).")
    commands.add_parser("kiosk", help="Run the walk-up kiosk, or its queue board (see `showdesk kiosk --help`).")
    commands.add_parser("tech", help="Run technician mode: the live queue, the viewer, the figures.")
    commands.add_parser("agent", help="Run the laptop agent in the tray (see `showdesk agent --help`).")
    return parser


def capture_namespace(options: Mapping[str, Any]) -> argparse.Namespace:
    """`showdesk capture`'s arguments as the parser gives them, from ``options`` already read and
    checked by the launcher (showdesk.fast_capture: the parser's own destinations and types,
    test-held equal); the parser's defaults fill in the rest."""
    defaults: dict[str, Any] = {
        "log_level": None,
        "command": "capture",
        "handler": cmd_capture,
        "monitor": None,
        "region": None,
        "delay": 0.0,
        "clip": None,
        "fps": None,
        "description": None,
        "category": None,
        "caption": "",
        "name": None,
        "email": None,
        "format": None,
        "no_sysinfo": False,
        "exclude": [],
        "output": None,
        "submit": False,
        "gui": False,
        "no_agent": False,
        "backend": None,
        "wait": 20.0,
        "json": False,
    }
    return argparse.Namespace(**{**defaults, **options})


def main(
    argv: Sequence[str] | None = None,
    *,
    agent_capture: AgentCapture | None = None,
    capture_options: Mapping[str, Any] | None = None,
    sysinfo_helper: SysinfoProcess | None = None,
) -> int:
    """Run one command. ``agent_capture`` hands `showdesk capture` to the running laptop agent
    (the launcher passes it: the core may not import the laptop app); it returns the agent's
    answer header and bundle bytes, or None to capture here. ``capture_options`` are
    `showdesk capture`'s arguments the launcher read already (see :func:`capture_namespace`):
    building and running the parser would cost the capture a few ms more. ``sysinfo_helper`` is
    the system-information helper the launcher started for those options (capture_bundle)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if capture_options is not None and argv[:1] == ["capture"]:
        args = capture_namespace(capture_options)
        args.sysinfo_helper = sysinfo_helper
    elif sysinfo_helper is not None:
        sysinfo_helper.close()
    else:
        parser = build_parser("capture" if argv[:1] == ["capture"] else None)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return Exit.USAGE
    try:
        if args.handler is cmd_capture:
            # It sets logging up itself where its work may first log (_start_logging).
            args.handed = _hand_to_agent(args, agent_capture)
        else:
            _start_logging(args)
        return int(args.handler(args))
    except CommandError as exc:
        print(f"showdesk: {exc}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`showdesk sysinfo | head`): not an error worth a traceback.
        sys.stderr.close()
        return int(Exit.OK)
    except Exception as exc:
        from agent.config import ConfigError  # already loaded by whatever raised one

        if not isinstance(exc, ConfigError):
            raise
        print(f"showdesk: configuration: {exc}", file=sys.stderr)
        return int(Exit.CONFIG)


def _start_logging(args: argparse.Namespace) -> None:
    """Set logging up for this command, once (at the configured level unless --log-level says)."""
    if getattr(args, "logging_started", False):
        return
    args.logging_started = True
    _setup_logging(_log_level(args))


def _log_level(args: argparse.Namespace) -> str:
    from agent.config import ConfigError

    try:
        return str(args.log_level or _config(args).get("log.level"))
    except ConfigError:
        return "INFO"


if __name__ == "__main__":
    sys.exit(main())
