"""Capture and encoding benchmark: grab cost, encoders compared, whole-process capture vs scrot/maim.

Run: ``.venv/bin/python bench/capture.py`` (add ``--sizes 1920x1080`` for a quicker run).
It starts its own Xvfb at each size, shows a generated busy desktop on it (photo wallpaper,
overlapping windows with text, code, a table and photos, a task bar) and prints, in one run:

- grab time with one long-lived Capturer against a plain memory copy of the same bytes (and
  against opening a new capture handle per grab);
- encode time and size per format, from the in-memory shot: Pillow PNG levels 1-6, Qt's PNG
  writer, WebP lossless at its fast settings, lossy WebP and JPEG;
- the default encoder against Pillow's default PNG (compress_level 6);
- grab + default encode in a running process against scrot's whole process, as the process
  starts and after ``encoding.keep_working_memory()`` (what a long-running agent calls);
- the command's start: ``showdesk --version`` and ``showdesk --help`` against ``python -c pass``
  (medians and bests of interleaved runs);
- whole processes: ``python -m showdesk capture -o FILE`` handed to a running laptop agent
  (``showdesk agent`` started by the benchmark on the same Xvfb) and captured by the command
  itself (with and without system information, with a backend answering the connectivity
  check, and with glibc told to back large allocations with transparent huge pages), the same capture written
  as an image directly with agent.capture and agent.encoding, ``scrot`` and ``maim``; a row is
  skipped, with the reason, when its command fails or is missing.
Every speed figure is a ratio against a peer measured in the same run on the same machine.
ShowDesk's own modules are compiled to bytecode first, as an installed package has them
(``PYTHONDONTWRITEBYTECODE`` would otherwise make every run compile them anew).
"""

from __future__ import annotations

import argparse
import compileall
import functools
import http.server
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import PIL  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter, ImageFont  # noqa: E402

from agent import encoding  # noqa: E402
from agent.capture import Capturer, Shot  # noqa: E402
from agent.encoding import ImageFormat  # noqa: E402
from tests.fixtures.xvfb import paint_root, start_xvfb  # noqa: E402

# ---------------------------------------------------------------- a realistic desktop
_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_TEXT = (
    "the printer on floor three shows error code 0x80070005 when I try to print the quarterly "
    "report from the shared drive and the VPN disconnects every ten minutes since yesterday's "
    "update so I cannot reach the ticket portal or my mailbox while working from home today "
    "password expired account locked network drive mapping failed certificate warning"
)
_WORDS = _TEXT.split()


def _font(size: int, *, mono: bool = False, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _FONT_DIR / f"{'DejaVuSansMono' if mono else 'DejaVuSans'}{'-Bold' if bold else ''}.ttf"
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


def _photo(width: int, height: int, rng: random.Random) -> Image.Image:
    """Photo-like: smooth colour fields drifting from sky to ground, with sensor-like grain."""
    cols, rows = max(2, width // 40), max(2, height // 40)
    base = [rng.randrange(40, 200) for _ in range(3)]
    sky = [min(255, c + 60) for c in base]
    pixels = []
    for r in range(rows):
        mix = r / rows
        for _ in range(cols):
            pixels.append(
                tuple(
                    max(0, min(255, int(s * (1 - mix) + b * 0.6 * mix + rng.gauss(0, 22))))
                    for s, b in zip(sky, base, strict=True)
                )
            )
    coarse = Image.new("RGB", (cols, rows))
    coarse.putdata(pixels)
    smooth = coarse.resize((width, height), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 10)] * 3)
    return Image.blend(smooth, grain, 0.08)


def _window(kind: str, w: int, h: int, scale: float, rng: random.Random) -> Image.Image:
    """One application window with title bar and content, clipped to its frame."""
    win = Image.new("RGB", (w, h), (30, 32, 40) if kind == "editor" else (255, 255, 255))
    draw = ImageDraw.Draw(win)
    text_font, mono_font = _font(round(14 * scale)), _font(round(13 * scale), mono=True)
    line, bar = round(20 * scale), round(32 * scale)
    top = [rng.randrange(60, 200) for _ in range(3)]
    for i in range(bar):
        draw.line((0, i, w, i), fill=tuple(int(c * (1 - 0.3 * i / bar)) for c in top))
    title = f"{kind.title()} — {' '.join(rng.sample(_WORDS, 3))}"
    draw.text((12 * scale, 8 * scale), title, font=_font(round(13 * scale), bold=True), fill=(250, 250, 250))
    for i, colour in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        cx, cy, r = w - (20 + i * 24) * scale, bar / 2, 7 * scale
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    if kind in ("browser", "mail"):
        y = bar + line
        while y < h - line:
            if rng.random() < 0.12 and y + 8 * line < h:
                photo_w, photo_h = min(w - 40, round(320 * scale)), 6 * line
                win.paste(_photo(photo_w, photo_h, rng), (20, y))
                y += photo_h + line
                continue
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(6, 30)))
            draw.text((20, y), words, font=text_font, fill=(30, 30, 30))
            y += line
    elif kind == "editor":
        palette = ((198, 120, 221), (152, 195, 121), (229, 192, 123), (97, 175, 239), (171, 178, 191))
        y, number = bar + line // 2, 1
        while y < h - line:
            draw.text((8, y), f"{number:4d}", font=mono_font, fill=(90, 95, 110))
            x = 60 * scale
            for _ in range(rng.randrange(0, 8)):
                token = rng.choice(_WORDS) + rng.choice(("(", ")", ".", " = ", ", ", ":"))
                draw.text((x, y), token, font=mono_font, fill=rng.choice(palette))
                x += draw.textlength(token, font=mono_font) + 6
            y += line
            number += 1
    elif kind == "sheet":
        cols, rows = max(3, w // round(110 * scale)), max(3, (h - bar) // line)
        cell_w = w / cols
        for r in range(rows):
            y = bar + r * line
            if r % 2:
                draw.rectangle((0, y, w, y + line), fill=(244, 247, 252))
            for c in range(cols):
                cell = f"{rng.uniform(-9999, 99999):,.2f}" if r else f"Column {c + 1}"
                draw.text((c * cell_w + 4, y + 3 * scale), cell, font=text_font, fill=(20, 20, 20))
            draw.line((0, y, w, y), fill=(210, 214, 220))
        for c in range(cols):
            draw.line((c * cell_w, bar, c * cell_w, h), fill=(210, 214, 220))
    else:  # an image viewer: a photo filling the window
        win.paste(_photo(w - 20, h - bar - 20, rng), (10, bar + 10))
    return win


def generate_desktop(width: int, height: int, seed: int = 7) -> Image.Image:
    """A busy screen: photo wallpaper, overlapping windows (text, code, table, photos), a task bar."""
    rng = random.Random(seed)
    scale = height / 1080
    desk = _photo(width, height, rng)
    draw = ImageDraw.Draw(desk)
    taskbar = round(40 * scale)
    for kind in ("browser", "editor", "sheet", "viewer", "mail"):
        w, h = rng.randrange(width // 3, width * 2 // 3), rng.randrange(height // 3, height * 2 // 3)
        x, y = rng.randrange(0, width - w - 8), rng.randrange(0, height - h - taskbar - 8)
        draw.rectangle((x + 6, y + 6, x + w + 6, y + h + 6), fill=(40, 40, 40))  # drop shadow
        desk.paste(_window(kind, w, h, scale, rng), (x, y))
    for i in range(taskbar):
        shade = i // 2
        draw.line((0, height - taskbar + i, width, height - taskbar + i), fill=(32 + shade, 36 + shade, 48 + shade))
    for i in range(12):
        x = round((12 + i * 48) * scale)
        colour = tuple(rng.randrange(80, 255) for _ in range(3))
        draw.rounded_rectangle(
            (x, height - taskbar + 6 * scale, x + 28 * scale, height - 6 * scale), radius=6 * scale, fill=colour
        )
    clock_font = _font(round(14 * scale))
    draw.text((width - 90 * scale, height - taskbar + 12 * scale), "14:32", font=clock_font, fill=(240, 240, 240))
    return desk


# ---------------------------------------------------------------- measuring
def best_seconds(action: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    return interleaved_best({"": action}, repeats, warmup)[""]


def interleaved_best(actions: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Best time of each action over ``repeats`` turns.

    The actions run in turns, so that load from elsewhere hits all of them alike, and the best
    of several runs is kept: on a shared machine the minimum is the figure least disturbed by
    other work (as ``timeit`` advises), and every figure is compared with a peer timed alike.
    """
    return {name: min(values) for name, values in interleaved_times(actions, repeats, warmup).items()}


def interleaved_times(
    actions: dict[str, Callable[[], object]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Every time of each action over ``repeats`` turns (see :func:`interleaved_best`)."""
    for _ in range(warmup):
        for action in actions.values():
            action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def qt_png_encoder(shot: Shot, quality: int) -> Callable[[], bytes]:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage

    png: Any = "PNG"  # PySide6 takes the format as str (its stubs say bytes, which it refuses)

    def encode_qt() -> bytes:
        # BGRX in memory is Qt's RGB32 on little-endian machines: wrapped without a copy.
        image = QImage(shot.pixels, shot.width, shot.height, shot.stride, QImage.Format.Format_RGB32)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, png, quality):
            raise RuntimeError("Qt could not write PNG")
        buffer.close()
        return bytes(data.data())

    return encode_qt


def candidate_formats(large: bool) -> list[ImageFormat]:
    candidates = [
        ImageFormat(f"Pillow PNG level {n}", "image/png", "PNG", True, {"compress_level": n}) for n in range(1, 7)
    ]
    webp_settings = (
        [(0, 0), (0, 25), (0, 50), (0, 75), (1, 0), (2, 0)]
        if large
        else [(0, 0), (0, 10), (0, 25), (0, 50), (0, 75), (1, 0), (1, 25), (2, 0), (2, 25)]
    )
    for method, quality in webp_settings:
        options = {"lossless": True, "method": method, "quality": quality, "exact": True}
        candidates.append(ImageFormat(f"WebP lossless m{method} q{quality}", "image/webp", "WEBP", True, options))
    for method in (0, 2, 4):
        candidates.append(
            ImageFormat(f"WebP lossy q80 m{method}", "image/webp", "WEBP", False, {"quality": 80, "method": method})
        )
    for quality in (75, 85, 90):
        candidates.append(ImageFormat(f"JPEG q{quality}", "image/jpeg", "JPEG", False, {"quality": quality}))
    return candidates


# What `showdesk capture -o FILE` needs to do, written directly against the core.
DIRECT_CAPTURE = """
import sys
from pathlib import Path
from agent.capture import Capturer
from agent.encoding import encode_all
with Capturer() as capturer:
    shots = capturer.capture_all()
out = Path(sys.argv[1])
for number, image in enumerate(encode_all(shots), start=1):
    name = out if len(shots) == 1 else out.with_stem(f"{out.stem}-{number}")
    name.with_suffix("." + image.extension).write_bytes(image.data)
"""


HUGE_PAGES_LABEL = "  the same, GLIBC_TUNABLES=glibc.malloc.hugetlb=1"

# A running process that keeps the encoder's working memory: it grabs and encodes once per
# line on standard input and answers with a line, so its turns interleave with the peers'.
KEEPING_PROCESS = """
import sys
from agent import encoding
from agent.capture import Capturer
assert encoding.keep_working_memory()
with Capturer() as capturer:
    print("ready", flush=True)
    for _ in sys.stdin:
        encoding.encode(capturer.capture_monitor(1))
        print("done", flush=True)
"""


class _Healthz(http.server.BaseHTTPRequestHandler):
    """A backend that answers the connectivity check."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


# The laptop agent, resident on the benchmark's Xvfb (no tray there: it stays in the background).
AGENT = "import sys; from agent.laptop.app import main; sys.exit(main(['--background', '--no-tray']))"
AGENT_LABEL = "python -m showdesk capture -o FILE, agent running"


def start_agent(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`showdesk agent` in the background; returns once it listens on its socket."""
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    socket_path = Path(env["SHOWDESK_RUNTIME_DIR"]) / "agent.sock"
    deadline = time.monotonic() + 60
    while not socket_path.exists():
        if agent.poll() is not None or time.monotonic() > deadline:
            agent.kill()
            raise RuntimeError(f"the agent did not start listening: {agent.communicate()[1].decode()[-400:]}")
        time.sleep(0.05)
    return agent


def stop_agent(agent: subprocess.Popen[bytes], env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "showdesk", "agent", "--quit"], env=env, cwd=REPO, capture_output=True, timeout=30
    )
    try:
        agent.wait(timeout=30)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait(timeout=30)


def bench_start(repeats: int) -> None:
    """`showdesk --version` and `--help` against the interpreter's own start, runs interleaved."""
    showdesk = shutil.which("showdesk", path=str(Path(sys.executable).parent))
    launcher = [showdesk] if showdesk else [sys.executable, "-m", "showdesk"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "showdesk --version": [*launcher, "--version"],
        "showdesk --help": [*launcher, "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats + 1):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)
            times[name].append(time.perf_counter() - start)
    print(f"=== the command's start ({' '.join(launcher)}), {repeats} interleaved runs ===")
    base = {name: values[1:] for name, values in times.items()}  # the first turn warms the page cache
    peer_median, peer_best = statistics.median(base["python -c pass"]), min(base["python -c pass"])
    for name, values in base.items():
        median, best = statistics.median(values), min(values)
        print(
            f"  {name:24s} median {ms(median)} ({median / peer_median:4.2f}x)  best {ms(best)}"
            f" ({best / peer_best:4.2f}x)"
        )
    print("  target: --version within 1.5x of python -c pass")


def bench_size(
    width: int, height: int, *, whole_only: bool = False, baseline: Path | None = None, runs: int | None = None
) -> None:
    large = width * height > 4_000_000
    repeats = runs or (3 if large else 7)
    print(f"\n=== {width}x{height}, a busy generated desktop ===")
    desktop = generate_desktop(width, height)
    with start_xvfb(width, height) as server, tempfile.TemporaryDirectory() as tmp:
        paint_root(server.display, desktop)
        if whole_only:
            with Capturer(server.display) as capturer:
                bench_whole_processes(server.env, capturer, Path(tmp), repeats, baseline)
            return

        # -------------------------------------------------------- grab
        def grab_with_new_handle() -> None:
            with Capturer(server.display) as fresh:
                fresh.capture_monitor(1)

        with Capturer(server.display) as capturer:
            shot = capturer.capture_monitor(1)
            assert shot.image().tobytes() == desktop.tobytes(), "the grab does not show the painted desktop"
            # Each action drops its result before the next runs, so both reuse freed memory alike.
            grab_times = interleaved_best(
                {"copy": lambda: bytes(shot.pixels), "grab": lambda: capturer.capture_monitor(1)}, repeats * 5
            )
        grab_times["fresh"] = best_seconds(grab_with_new_handle, repeats * 3)
        copy, grab, fresh_grab = grab_times["copy"], grab_times["grab"], grab_times["fresh"]
        print("grab (one monitor, in memory)")
        print(f"  memory copy of the same {shot.pixels.nbytes / 1e6:.1f} MB          {ms(copy)}")
        print(f"  grab, one long-lived Capturer              {ms(grab)}  {grab / copy:5.2f}x the copy (target <= 4x)")
        print(f"  grab, new capture handle each time         {ms(fresh_grab)}  {fresh_grab / grab:5.1f}x the grab")

        # -------------------------------------------------------- encoders
        def encoder(fmt: ImageFormat) -> Callable[[], bytes]:
            return lambda: encoding.encode(shot, fmt).data

        encoders = {fmt.name: encoder(fmt) for fmt in candidate_formats(large)}
        encoders["Qt PNG default"] = qt_png_encoder(shot, -1)
        encoders["Qt PNG quality 90 (fast)"] = qt_png_encoder(shot, 90)
        default = encoding.DEFAULT
        encoders[f"default: {default.name}"] = lambda: encoding.encode(shot, default).data
        sizes = {name: len(encode()) for name, encode in encoders.items()}
        timings = interleaved_best(dict(encoders), repeats, warmup=0)
        png6_time, png6_size = timings["Pillow PNG level 6"], sizes["Pillow PNG level 6"]
        print(
            "encode from the in-memory shot (best of several)          time         size  speed vs PNG-6  size vs PNG-6"
        )
        for name, seconds in timings.items():
            print(
                f"  {name:38s} {ms(seconds)} {sizes[name] / 1e6:8.3f} MB  {png6_time / seconds:10.2f}x"
                f"  {sizes[name] / png6_size:10.2f}"
            )
        default_time, default_size = timings[f"default: {default.name}"], sizes[f"default: {default.name}"]
        print(
            f"default {default.name} {dict(default.options)}: {png6_time / default_time:.2f}x faster than "
            f"Pillow PNG level 6 (target >= 3x) at {default_size / png6_size:.2f}x its size (target <= 1)"
        )

        bench_whole_processes(server.env, capturer, Path(tmp), repeats, baseline)


def baseline_tree(revision: str, into: Path) -> Path:
    """The launcher and the core (showdesk/, agent/) as they were at ``revision``, compiled, in ``into``."""
    archive = subprocess.run(
        ["git", "archive", revision, "agent", "showdesk"], cwd=REPO, capture_output=True, check=True, timeout=60
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True, timeout=60)
    for package in ("agent", "showdesk"):
        compileall.compile_dir(into / package, quiet=1)
    return into


def bench_whole_processes(
    server_env: dict[str, str], capturer: Capturer, tmp: Path, repeats: int, baseline: Path | None = None
) -> None:
    env = dict(server_env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(Path(tmp) / name.lower())  # the command must not touch the user's own files
    out = str(Path(tmp) / "shot")
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    env_with_backend = {**env, "SHOWDESK_URL": f"http://127.0.0.1:{backend.server_address[1]}"}
    # The command line hands its capture to an agent listening in its runtime directory; the
    # rows without an agent look in an empty one.
    (tmp / "runtime-agent").mkdir(mode=0o700)
    (tmp / "runtime-none").mkdir(mode=0o700)
    env["SHOWDESK_RUNTIME_DIR"] = str(tmp / "runtime-none")
    env_with_agent = {**env, "SHOWDESK_RUNTIME_DIR": str(tmp / "runtime-agent"), "QT_QPA_PLATFORM": "offscreen"}
    agent = start_agent(env_with_agent)
    commands = {
        AGENT_LABEL: [sys.executable, "-m", "showdesk", "capture", "-o", out + "-agent.showdesk"],
        "python -m showdesk capture -o FILE": [
            sys.executable,
            "-m",
            "showdesk",
            "capture",
            "-o",
            out + ".showdesk",
        ],
        HUGE_PAGES_LABEL: [
            sys.executable,
            "-m",
            "showdesk",
            "capture",
            "-o",
            out + "-huge.showdesk",
        ],
        "python -m showdesk capture -o FILE, backend answering": [
            sys.executable,
            "-m",
            "showdesk",
            "capture",
            "-o",
            out + "-backend.showdesk",
        ],
        "python -m showdesk capture --no-sysinfo -o FILE": [
            sys.executable,
            "-m",
            "showdesk",
            "capture",
            "--no-sysinfo",
            "-o",
            out + "-nosys.showdesk",
        ],
        "python: Capturer + encode_all + write": [sys.executable, "-c", DIRECT_CAPTURE, out + "-direct.webp"],
        "python -c pass (interpreter start only)": [sys.executable, "-c", "pass"],
        "scrot FILE.png": ["scrot", "-o", out + "-scrot.png"],
        "maim FILE.png": ["maim", out + "-maim.png"],
    }
    runnable: dict[str, Callable[[], object]] = {}
    # What the environment can give a process that cannot ask for it once started: glibc
    # backs large allocations with transparent huge pages (where the kernel's THP setting is
    # "madvise" or "always"), so the encoder's fresh buffers take far fewer page faults.
    command_envs = {
        AGENT_LABEL: env_with_agent,
        "python -m showdesk capture -o FILE, backend answering": env_with_backend,
        HUGE_PAGES_LABEL: {**env, "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"},
    }
    command_dirs: dict[str, Path] = {}
    # CPU time (user + system) of each run's process: on a machine other work loads, it is
    # disturbed far less than the wall time (the agent's own work is not in its row's figure).
    cpu_times: dict[str, list[float]] = {}
    if baseline is not None:
        # The command line as it was (its launcher and core; the agent answering is today's),
        # started from the old tree so that its modules are the ones imported.
        old_env = {**env, "PYTHONPATH": str(baseline)}
        for label, extra, run_env in (
            (f"{AGENT_LABEL} [{baseline.name}]", "-agent-old", {**env_with_agent, "PYTHONPATH": str(baseline)}),
            (f"python -m showdesk capture -o FILE [{baseline.name}]", "-old", old_env),
        ):
            commands[label] = [sys.executable, "-m", "showdesk", "capture", "-o", out + extra + ".showdesk"]
            command_envs[label] = run_env
            command_dirs[label] = baseline
    for label, command in commands.items():
        command_env = command_envs.get(label, env)
        problem = probe(command, command_env, command_dirs.get(label, REPO))
        if problem:
            print(f"  {label:48s} skipped: {problem}")
        else:
            runnable[label] = functools.partial(
                run_child, command, command_env, command_dirs.get(label, REPO), cpu_times.setdefault(label, [])
            )

    def grab_and_encode() -> None:
        encoding.encode(capturer.capture_monitor(1))

    keeping = subprocess.Popen(
        [sys.executable, "-c", KEEPING_PROCESS],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert keeping.stdin is not None and keeping.stdout is not None
    keeping_in, keeping_out = keeping.stdin, keeping.stdout

    def grab_and_encode_keeping_memory() -> None:
        keeping_in.write("go\n")
        keeping_in.flush()
        if keeping_out.readline().strip() != "done":
            raise RuntimeError("the capturing process stopped")

    try:
        if keeping_out.readline().strip() != "ready":
            raise RuntimeError("the capturing process did not start")
        runnable["in a running process: grab + default encode"] = grab_and_encode
        runnable["  the same, keep_working_memory()"] = grab_and_encode_keeping_memory
        all_times = interleaved_times(runnable, repeats, warmup=0)
    finally:
        keeping_in.close()
        keeping.wait(timeout=30)
        backend.shutdown()
        stop_agent(agent, env_with_agent)
    timings = {label: min(values) for label, values in all_times.items()}
    medians = {label: statistics.median(values) for label, values in all_times.items()}
    scrot, scrot_median = timings.get("scrot FILE.png"), medians.get("scrot FILE.png")
    print(f"whole process, one capture written to a file ({repeats} interleaved runs: best, and median)")
    for label, seconds in timings.items():
        relative = f"  {seconds / scrot:5.2f}x scrot" if scrot else ""
        median = medians[label]
        median_relative = f" ({median / scrot_median:5.2f}x)" if scrot_median else ""
        cpu = cpu_times.get(label)
        cpu_column = ""
        if cpu:
            scrot_cpu = cpu_times.get("scrot FILE.png")
            cpu_relative = f" ({statistics.median(cpu) / statistics.median(scrot_cpu):5.2f}x)" if scrot_cpu else ""
            cpu_column = f"   CPU median {ms(statistics.median(cpu))}{cpu_relative}"
        print(f"  {label:48s} {ms(seconds)}{relative}   median {ms(median)}{median_relative}{cpu_column}")
    if scrot:
        print(
            "  targets: showdesk capture <= 1x scrot with the agent running, <= 2x without;"
            " grab + encode in a running process <= 0.5x scrot"
        )


def run_child(command: list[str], env: dict[str, str], cwd: Path, cpu: list[float]) -> None:
    """Run ``command`` to its end; its CPU time (user + system) goes to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def probe(command: list[str], env: dict[str, str], cwd: Path = REPO) -> str | None:
    """Why ``command`` cannot be timed here (missing, or failing), or None."""
    if shutil.which(command[0]) is None:
        return f"{command[0]} is not installed"
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"exit {result.returncode}: {reason[:90]}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1920x1080,3840x2160", help="comma-separated WIDTHxHEIGHT list")
    parser.add_argument(
        "--whole-only", action="store_true", help="only the start and the whole processes (no grab or encoder tables)"
    )
    parser.add_argument("--start-runs", type=int, default=15, help="interleaved runs of the start-up rows")
    parser.add_argument(
        "--runs", type=int, default=None, help="interleaved runs of the whole-process rows (default 7, 3 at 4K)"
    )
    parser.add_argument(
        "--ab",
        metavar="REVISION",
        help="also time the command line (showdesk/ and agent/) as it was at this git revision, e.g. HEAD~3",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, Pillow {PIL.__version__}")
    for package in ("agent", "showdesk"):
        compileall.compile_dir(REPO / package, quiet=1)
    bench_start(args.start_runs)
    with tempfile.TemporaryDirectory() as old:
        baseline = baseline_tree(args.ab, Path(old) / args.ab.replace("/", "-")) if args.ab else None
        for size in args.sizes.split(","):
            width, height = (int(n) for n in size.lower().split("x"))
            bench_size(width, height, whole_only=args.whole_only, baseline=baseline, runs=args.runs)


if __name__ == "__main__":
    main()
