"""Clips benchmark: the instant replay's CPU share and memory, and clip encoding against stills.

Run: ``.venv/bin/python bench/clips.py`` (about three minutes; ``--quick`` for a shorter run).

1. Instant replay on an idle 1080p desktop. An Xvfb at 1920x1080 shows the generated busy desktop
   of bench/capture.py. Two child processes start together and run side by side for the same
   time: the *idle peer* imports what the agent's core imports for clips (agent.clips, Pillow),
   makes the agent's one call ``encoding.keep_working_memory()`` and waits; the *replay* does the
   same and runs a ReplayBuffer (30 s at 5 fps, the defaults). After a warm-up longer than the
   replay's 30 s (so its buffer is full), each process's CPU time is read over a measured window
   and divided by the window's wall time: a share of one core. Memory is each process's RSS and
   USS (pages only it holds) at the end; the figure is the replay's minus the peer's. The same is
   run with a window moving once a second (a screen that is not quite idle), for comparison.
   Targets: ≤ 3 % of one core and ≤ 60 MB extra, idle desktop.

2. Encoding. Ten seconds at 5 fps of 1080p screen content, made from the same generated desktop
   (no X needed): an idle screen, a window moving 40 px a frame, and a document scrolling (a
   third of the screen changes every frame). Each is encoded as one clip (``encode_clip``: animated
   lossless WebP) and, as the peer, as one lossless-WebP still per frame with the agent's default
   still format. Figures are per second of video: encode time and bytes, and the clip's ratio to
   the stills. The best of two turns, taken in turns.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from bench.capture import generate_desktop, ms  # noqa: E402

MEGABYTE = 1024 * 1024
FPS = 5.0


# ---------------------------------------------------------------- 1. the replay's cost (child processes)
def child(role: str, display: str, seconds: float) -> None:
    """What each child process runs: wait (the idle peer) or keep the instant replay (the replay)."""
    from agent import clips, encoding

    encoding.keep_working_memory()
    replay = None
    if role == "replay":
        replay = clips.ReplayBuffer(clips.CaptureTarget(display=display))
        replay.start()
    print("ready", flush=True)
    time.sleep(seconds)
    report = {"bytes_held": 0, "frames_grabbed": 0}
    if replay is not None:
        report = {"bytes_held": replay.bytes_held, "frames_grabbed": replay.frames_grabbed}
        replay.stop()
    print(json.dumps(report), flush=True)


def _start_child(role: str, display: str, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", role, "--display", display, "--seconds", str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the {role} child did not start")
    return process


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure_replay(
    display: str, warmup: float, window: float, mover: Callable[[], None] | None
) -> dict[str, dict[str, float]]:
    """Run the idle peer and the replay side by side; CPU share over ``window`` after ``warmup``."""
    total = warmup + window + 2.0
    children = {role: _start_child(role, display, total) for role in ("idle", "replay")}
    handles = {role: psutil.Process(process.pid) for role, process in children.items()}
    deadline = time.monotonic() + warmup
    while time.monotonic() < deadline:
        if mover is not None:
            mover()
        time.sleep(1.0)
    start_wall = time.monotonic()
    start_cpu = {role: _cpu_seconds(handle) for role, handle in handles.items()}
    deadline = start_wall + window
    while time.monotonic() < deadline:
        if mover is not None:
            mover()
        time.sleep(1.0)
    wall = time.monotonic() - start_wall
    results: dict[str, dict[str, float]] = {}
    for role, handle in handles.items():
        memory = handle.memory_full_info()
        results[role] = {
            "cpu_share": (_cpu_seconds(handle) - start_cpu[role]) / wall,
            "rss": memory.rss,
            "uss": memory.uss,
        }
    for role, process in children.items():
        out, _ = process.communicate(timeout=60)
        results[role].update(json.loads(out.strip().splitlines()[-1]))
    return results


def bench_replay(quick: bool) -> None:
    from agent.capture import Rect
    from tests.clips.xwindows import ColourWindow
    from tests.fixtures.xvfb import paint_root, start_xvfb

    warmup, window = (8.0, 10.0) if quick else (32.0, 20.0)
    print(f"\n== instant replay, 1920x1080, 30 s at 5 fps: {warmup:.0f} s warm-up, {window:.0f} s measured")
    print("| desktop | peer CPU | replay CPU | extra CPU (of one core) | extra RSS | extra USS | replay holds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with start_xvfb(1920, 1080) as screen:
        paint_root(screen.display, generate_desktop(1920, 1080))
        scenarios: list[tuple[str, Callable[[], None] | None]] = [("idle", None)]
        with ColourWindow(screen.env, "#ffd000", Rect(100, 100, 400, 300)) as moving:
            step = [0]

            def move() -> None:
                step[0] += 1
                moving.move(100 + (step[0] % 10) * 120, 100 + (step[0] % 5) * 100)

            # The window sits still (part of the idle desktop) until the second scenario moves it.
            scenarios.append(("a window moving once a second", move))
            for name, mover in scenarios:
                result = measure_replay(screen.display, warmup, window, mover)
                peer, replay = result["idle"], result["replay"]
                print(
                    f"| {name} | {peer['cpu_share'] * 100:.2f} % | {replay['cpu_share'] * 100:.2f} % "
                    f"| **{(replay['cpu_share'] - peer['cpu_share']) * 100:.2f} %** "
                    f"| **{(replay['rss'] - peer['rss']) / MEGABYTE:.1f} MB** "
                    f"| {(replay['uss'] - peer['uss']) / MEGABYTE:.1f} MB "
                    f"| {replay['bytes_held'] / MEGABYTE:.1f} MB in {replay['frames_grabbed']:.0f} grabs |"
                )


# ---------------------------------------------------------------- 2. encoding
def _window_picture(width: int, height: int) -> Image.Image:
    picture = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, width, 28), fill=(60, 90, 160))
    for row in range(40, height - 10, 18):
        draw.text((12, row), f"line {row // 18}: the printer on floor three shows error 0x80070005", fill=(20, 20, 20))
    return picture


def scenario_frames(name: str, seconds: float) -> list[Image.Image]:
    desktop = generate_desktop(1920, 1080)
    count = round(seconds * FPS)
    if name == "idle":
        return [desktop] * count
    if name == "window moving":
        window = _window_picture(480, 320)
        frames = []
        for number in range(count):
            frame = desktop.copy()
            frame.paste(window, (60 + number * 30, 120 + (number % 10) * 20))
            frames.append(frame)
        return frames
    # A document scrolling: a 1200x700 region shows a tall page 20 px further down each frame.
    page = Image.new("RGB", (1200, 700 + count * 20), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    for row in range(0, page.height, 18):
        line = f"{row // 18:5d}  quarterly report, shared drive, VPN drops every ten minutes"
        draw.text((16, row), line, fill=(0, 0, 0))
    frames = []
    for number in range(count):
        frame = desktop.copy()
        frame.paste(page.crop((0, number * 20, 1200, number * 20 + 700)), (300, 150))
        frames.append(frame)
    return frames


def _recording(frames: list[Image.Image]) -> object:
    from agent.capture import MonitorInfo, Rect
    from agent.clips import Recording
    from agent.clips.frames import FrameCompressor

    compressor = FrameCompressor()
    compressed = tuple(
        compressor.compress(frame.tobytes("raw", "BGRX"), 1920, 1080, number / FPS)
        for number, frame in enumerate(frames)
    )
    return Recording(
        frames=compressed,
        duration=len(frames) / FPS,
        monitor=MonitorInfo(1, Rect(0, 0, 1920, 1080)),
        region=Rect(0, 0, 1920, 1080),
        started_at=datetime.now(UTC),
    )


def bench_encode(quick: bool) -> None:
    from agent import encoding
    from agent.clips import Recording, encode_clip

    encoding.keep_working_memory()
    seconds = 4.0 if quick else 10.0
    print(f"\n== encoding {seconds:.0f} s of 1920x1080 at 5 fps: one clip against a lossless-WebP still per frame")
    print("| screen | clip: time per s | clip: size per s | stills: time per s | stills: size per s "
          "| clip / stills time | clip / stills size | frames in the clip |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in ("idle", "window moving", "document scrolling"):
        frames = scenario_frames(name, seconds)
        recording = _recording(frames)
        assert isinstance(recording, Recording)
        best = {"clip": float("inf"), "stills": float("inf")}
        sizes = {"clip": 0, "stills": 0}
        clip_frames = 0
        for _ in range(2):
            start = time.perf_counter()
            clip = encode_clip(recording)
            best["clip"] = min(best["clip"], time.perf_counter() - start)
            sizes["clip"], clip_frames = len(clip.data), clip.frames
            start = time.perf_counter()
            stills = [encoding.encode(frame, encoding.WEBP_LOSSLESS) for frame in frames]
            best["stills"] = min(best["stills"], time.perf_counter() - start)
            sizes["stills"] = sum(len(still.data) for still in stills)
        print(
            f"| {name} | {ms(best['clip'] / seconds)} | {sizes['clip'] / seconds / MEGABYTE:.2f} MB "
            f"| {ms(best['stills'] / seconds)} | {sizes['stills'] / seconds / MEGABYTE:.2f} MB "
            f"| **{best['clip'] / best['stills']:.2f}x** | **{sizes['clip'] / sizes['stills']:.3f}x** | {clip_frames} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows (figures less steady)")
    parser.add_argument("--only", choices=["replay", "encode"], help="run one part")
    parser.add_argument("--child", choices=["idle", "replay"], help=argparse.SUPPRESS)
    parser.add_argument("--display", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.display, args.seconds)
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if args.only in (None, "replay"):
        bench_replay(args.quick)
    if args.only in (None, "encode"):
        bench_encode(args.quick)


if __name__ == "__main__":
    main()
