"""What fitting a clip to a ticket system's attachment limit costs, against one plain re-encode.

A 30 s 1080p clip from ``bench/clips.py``'s scenarios (a window moving, a document scrolling) is
fitted to Redmine's default per-file limit (5120 KB) by ``agent.connectors.fitting.fit_bundle``.
The peer, in the same run, is a single lossy re-encode of the same clip at full size through
``agent.clips.shrink_clip`` (the first rung of the fitting ladder): the ratio says how many
rungs the fit needed, and the peak memory says what a fit adds over holding the bundle.

Each measure runs in a fresh process so that peak resident memory belongs to it alone.

    .venv/bin/python bench/clip_fitting.py [--seconds 30] [--limit-kb 5120]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SCENARIOS = ("window moving", "document scrolling")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_clip(scenario: str, seconds: float, path: Path) -> None:
    from agent.clips import Recording, encode_clip
    from bench.clips import _recording, scenario_frames

    recording = _recording(scenario_frames(scenario, seconds))
    assert isinstance(recording, Recording)
    path.write_bytes(encode_clip(recording).data)


def measure(mode: str, path: Path, limit_bytes: int) -> dict[str, float | int | str]:
    from agent.bundle import ClipDraft, build_bundle
    from agent.clips import shrink_clip
    from agent.connectors.base import TooLargeError
    from agent.connectors.fitting import Limits, fit_bundle
    from agent.report_format import animation_facts
    from agent.schema import Report, Source

    data = path.read_bytes()
    bundle = build_bundle(
        Report(source=Source(kind="agent", id="bench")),
        clips=[ClipDraft(data=data, started_at=datetime.now(UTC), duration_ms=30_000)],
    )
    base = _peak_mb()
    started = time.perf_counter()
    canvas = "refused"
    size = len(data)
    if mode == "fit":
        try:
            clip = fit_bundle(bundle, Limits("Redmine", max_file_bytes=limit_bytes)).bundle.report.clips[0]
            size, canvas = clip.file.size, f"{clip.width}×{clip.height}"
        except TooLargeError:
            pass  # even half size stays over the limit: the fit refuses, and that cost is measured too
    else:
        shrunk = shrink_clip(data, scale=1.0, lossless=False, quality=82)
        facts = animation_facts(shrunk)
        size = len(shrunk)
        canvas = f"{facts.width}×{facts.height}" if facts else "?"
    return {
        "seconds": time.perf_counter() - started,
        "extra_peak_mb": _peak_mb() - base,
        "before": len(data),
        "after": size,
        "canvas": canvas,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length (default 30)")
    parser.add_argument("--limit-kb", type=int, default=5120, help="per-file limit in KiB (Redmine's default 5120)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CLIP", "LIMIT"), help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=3, metavar=("SCENARIO", "SECONDS", "CLIP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_clip(args.make[0], float(args.make[1]), Path(args.make[2]))
        return
    if args.child:
        print(json.dumps(measure(args.child[0], Path(args.child[1]), int(args.child[2]))))
        return

    limit = args.limit_kb * 1024
    print(f"fitting a {args.seconds:g} s 1080p clip to a {args.limit_kb} KB per-file limit; peer: one lossy re-encode")
    print(f"{'scenario':<20} {'clip MiB':>9} {'fitted MiB':>11} {'canvas':>10} {'fit s':>7} {'peer s':>7} "
          f"{'ratio':>6} {'fit +MB':>8} {'peer +MB':>9}")
    with tempfile.TemporaryDirectory(prefix="showdesk-clipfit-") as scratch:
        for scenario in SCENARIOS:
            clip = Path(scratch) / f"{scenario.split()[0]}.webp"
            subprocess.run([sys.executable, __file__, "--make", scenario, str(args.seconds), str(clip)], check=True)
            runs = {}
            for mode in ("fit", "peer"):
                done = subprocess.run([sys.executable, __file__, "--child", mode, str(clip), str(limit)],
                                      check=True, capture_output=True, text=True)
                runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            fit, peer = runs["fit"], runs["peer"]
            print(f"{scenario:<20} {int(fit['before']) / 2**20:>9.2f} {int(fit['after']) / 2**20:>11.2f} "
                  f"{fit['canvas']:>10} {float(fit['seconds']):>7.1f} {float(peer['seconds']):>7.1f} "
                  f"{float(fit['seconds']) / float(peer['seconds']):>5.1f}× {float(fit['extra_peak_mb']):>8.0f} "
                  f"{float(peer['extra_peak_mb']):>9.0f}")


if __name__ == "__main__":
    main()
