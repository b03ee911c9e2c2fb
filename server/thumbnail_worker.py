"""The child process that makes the requester page's thumbnails: ``python -m server.thumbnail_worker``.

The server process loads no image decoder by design (an upload is only ever walked, never
decoded, there). Decoding happens here instead, in a process whose address space and CPU time
are bounded by its own rlimits, set before Pillow is imported: a decompression bomb or a
crafted file that trips a decoder bug can only kill this process, which the server then logs
and replaces.

Protocol (one job at a time, a JSON object a line): the server writes
``{"source": path, "target": path, "size": 480, "quality": 75, "max_pixels": N, "cpu_seconds": S}``
on stdin and reads ``{"ok": true, "width": w, "height": h}`` or ``{"ok": false, "error": "..."}``
back on stdout. End of input ends the process.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
from pathlib import Path
from typing import Any

from agent.fsutil import atomic_write_bytes


def apply_limits(memory_bytes: int, cpu_seconds: int) -> None:
    """Bound this process before anything big is loaded (the hard limits cannot be raised again)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # The soft CPU limit is moved per image (see _bound_cpu); the hard one caps the process's life.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    # A crash must not write a core file holding a person's screenshot.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _bound_cpu(seconds: int) -> None:
    """Give the next image ``seconds`` of CPU from now: past it the kernel sends SIGXCPU, which kills."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    wanted = spent + seconds
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (wanted, hard))


def make_thumbnail(job: dict[str, Any]) -> dict[str, Any]:
    """Decode ``source``, shrink it to ``size`` on its longest side, write WebP to ``target`` atomically."""
    from PIL import Image  # imported only here, in the bounded child

    size = int(job["size"])
    max_pixels = int(job["max_pixels"])
    # The same cap the server's header checks hold (checked again below: a file may lie to one walker).
    Image.MAX_IMAGE_PIXELS = max_pixels
    with Image.open(Path(job["source"])) as image:
        if image.width * image.height > max_pixels:
            return {"ok": False, "error": f"{image.width}x{image.height} is over the pixel cap"}
        # A JPEG decodes straight at 1/2..1/8 scale: far less memory and time for a 4K shot.
        image.draft("RGB", (size, size))
        image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
        shown: Image.Image = image
        if image.mode not in ("RGB", "RGBA"):
            alpha = "A" in image.getbands() or "transparency" in image.info
            shown = image.convert("RGBA" if alpha else "RGB")
        out = io.BytesIO()
        shown.save(out, "WEBP", quality=int(job["quality"]), method=4)
        width, height = shown.size
    atomic_write_bytes(Path(job["target"]), out.getvalue())
    return {"ok": True, "width": width, "height": height}


def serve(stdin: io.TextIOBase | Any, stdout: io.TextIOBase | Any) -> None:
    for line in stdin:
        try:
            job = json.loads(line)
            _bound_cpu(int(job.get("cpu_seconds", 10)))
            answer = make_thumbnail(job)
        except MemoryError:
            answer = {"ok": False, "error": "out of memory (the worker's limit)"}
        except Exception as exc:  # noqa: BLE001 - any decoder error is this image's, reported, not fatal
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.thumbnail_worker")
    parser.add_argument("--memory-mb", type=int, required=True, help="RLIMIT_AS of this process")
    parser.add_argument("--cpu-seconds", type=int, required=True, help="RLIMIT_CPU hard limit of this process")
    args = parser.parse_args(argv)
    apply_limits(args.memory_mb * 1024 * 1024, args.cpu_seconds)
    serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
