"""Ticket creation through the Request Tracker connector against the same request made with curl.

One run on loopback, three peers timed in turns:

* **curl**: the create request the connector sends (``POST /REST/2.0/ticket``, the same
  ``JSON`` field and the same attachment parts, written to files first), made by the curl
  command-line tool. Timed twice: curl's own ``time_total`` (the transfer and RT's work) and the
  wall time of the whole process.
* **RT connector**: ``RTConnector.submit`` of the same report by a long-lived connector (as the
  agent's sender keeps one): the replay check (one TicketSQL query), fitting to RT's limit,
  building the body and the multipart request, the create. And by a new connector per report
  (as one ``showdesk submit`` process does): the queue check and the check that RT kept every
  file come on top (two more requests).
* **built-in server**: the built-in connector submitting the same report to ShowDesk's own
  server (tests/fixtures/server.py's ``ServerProcess``).

Each report carries three 1920×1080 desktop-like screenshots encoded the way a capture is by
default (lossless WebP), a log and the system information. RT runs from Debian's packages
(tests/fixtures/start-rt.sh; the first run installs them, about a minute; needs root and apt).

    .venv/bin/python bench/connectors.py [--rounds 12]

Target: the connector within 1.1× of curl's time_total for the same ticket.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.bundle import AttachmentDraft, ReportBundle, StepDraft, build_bundle
from agent.connectors.builtin import BuiltinConnector
from agent.connectors.fitting import fit_bundle
from agent.connectors.rt import RTConnector
from agent.schema import Report, Reporter, Source
from tests.fixtures.rt import add_report_field, rt_available, start_rt
from tests.fixtures.server import ServerProcess

T = TypeVar("T")
TARGET_RATIO = 1.1
WORDS = ("printer", "offline", "queue", "job", "0x80070005", "retry", "spooler", "the", "error", "connection", "out")
SYSINFO = {
    "os": {"name": "Debian GNU/Linux 12", "architecture": "x86_64", "kernel": "6.1.0", "hostname": "pc-17",
           "user": "ann", "uptime_seconds": 86400},
    "memory": {"total": 8 * 1024**3, "available": 3 * 1024**3, "percent": 62.5},
}


def desktop(seed: int, size: tuple[int, int] = (1920, 1080)) -> bytes:
    """A busy 1080p desktop (photo-like wallpaper, windows of text), as lossless WebP like a capture."""
    rng = random.Random(seed)
    width, height = size
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    grain = Image.frombytes("RGB", (width // 4, height // 4), rng.randbytes((width // 4) * (height // 4) * 3))
    image = Image.blend(gradient, grain.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(5)),
                        0.25)
    draw = ImageDraw.Draw(image)
    for window in range(5):
        left, top = rng.randrange(0, width // 2), rng.randrange(0, height // 2)
        right, bottom = left + rng.randrange(400, width // 2), top + rng.randrange(300, height // 2)
        draw.rectangle((left, top, right, bottom), fill=(250, 250, 250), outline=(90, 90, 90))
        draw.rectangle((left, top, right, top + 30), fill=(40 + 40 * window, 90, 170))
        for line in range(top + 40, bottom - 16, 17):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 14)))
            draw.text((left + 10, line), text, fill=(rng.randrange(60), rng.randrange(60), rng.randrange(60)))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=True, quality=0, method=0)
    return buffer.getvalue()


def report(screens: list[bytes]) -> ReportBundle:
    base = Report(
        id=uuid.uuid4(),
        category="Printer",
        description="The printer on floor 2 is offline; every job fails with 0x80070005.",
        reporter=Reporter(name="Ann Example", email="ann@example.org"),
        source=Source(kind="kiosk", id="kiosk-lobby", site="HQ", app_version="0.1.0"),
    )
    steps = [StepDraft(image=data, width=1920, height=1080, captured_at=datetime.now(UTC),
                       caption=f"Step {n}: the dialog after clicking Print") for n, data in enumerate(screens, 1)]
    log = AttachmentDraft(b"spooler: job 42 failed (0x80070005)\n" * 200, "spooler.log", "text/plain")
    return build_bundle(base, steps, [log], sysinfo=SYSINFO)


def curl_create(connector: RTConnector, token: str, bundle: ReportBundle, workdir: Path) -> tuple[float, float]:
    """The connector's create request made by curl: (curl's time_total, process wall time), seconds."""
    payload, files = connector.create_request(fit_bundle(bundle, connector.limits))
    folder = workdir / str(bundle.report.id)
    folder.mkdir()
    (folder / "payload.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    # No "Expect: 100-continue" round trip (curl adds one to large uploads; the connector does not).
    command = ["curl", "-s", "-o", str(folder / "answer.json"), "-w", "%{http_code} %{time_total}",
               "-H", "Expect:", "-H", f"Authorization: token {token}",
               "-F", f"JSON=<{folder / 'payload.json'};type=application/json"]
    for number, (name, media_type, data) in enumerate(files):
        path = folder / f"{number}-{name}"
        path.write_bytes(data)
        command += ["-F", f"Attachments=@{path};filename={name};type={media_type}"]
    command.append(f"{connector.url}/REST/2.0/ticket")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    status, total = result.stdout.split()
    if status != "201":
        raise RuntimeError(f"curl create answered {status}: {(folder / 'answer.json').read_text()}")
    return float(total), wall


def timed(action: Callable[[T], object], argument: T) -> float:
    started = time.perf_counter()
    action(argument)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    reason = rt_available()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    screens = [desktop(seed) for seed in range(3)]
    print(f"3 screenshots, lossless WebP: {', '.join(f'{len(s) / 1e6:.2f} MB' for s in screens)}")
    with tempfile.TemporaryDirectory(prefix="bench-connectors-") as scratch:
        work = Path(scratch)
        print("starting Request Tracker (first run installs Debian packages)…", flush=True)
        rt = start_rt(work / "rt", site_config="")  # RT's own defaults: $MaxAttachmentSize 10 MiB
        server = ServerProcess(work / "builtin" / "data")
        try:
            add_report_field(rt)
            server.start()
            builtin = BuiltinConnector(server.url, token=server.token("submitter"))
            def new_connector() -> RTConnector:
                return RTConnector(rt.url, queue=rt.queue, token=rt.token, report_id_field=rt.report_field)

            kept = new_connector()
            # Warm up every path once (RT's workers compile their code on first use).
            kept.submit(report(screens))
            builtin.submit(report(screens))
            curl_create(kept, rt.token, report(screens), work)
            rows: dict[str, list[float]] = {name: [] for name in (
                "curl time_total", "curl process", "RT connector", "RT connector, a new one per report",
                "replay check alone (1 TicketSQL query)", "built-in server")}
            for _round in range(args.rounds):
                total, wall = curl_create(kept, rt.token, report(screens), work)
                rows["curl time_total"].append(total)
                rows["curl process"].append(wall)
                # Reports are made before the clock starts: what is timed is the sending.
                first, second, third = report(screens), report(screens), report(screens)
                rows["RT connector"].append(timed(kept.submit, first))
                rows["RT connector, a new one per report"].append(timed(new_connector().submit, second))
                rows["replay check alone (1 TicketSQL query)"].append(timed(kept.find_ticket, report(screens).report))
                rows["built-in server"].append(timed(builtin.submit, third))
            size = report(screens).total_bytes()
        finally:
            server.stop()
            rt.stop()
    base = statistics.median(rows["curl time_total"])
    print(f"\nticket creation, {size / 1e6:.2f} MB of files per report, {args.rounds} rounds, median (min):")
    print(f"{'':36} {'median':>9} {'min':>9}  vs curl time_total")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:36} {median * 1000:7.0f} ms {min(values) * 1000:7.0f} ms  {median / base:5.2f}x")
    ratio = statistics.median(rows["RT connector"]) / base
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"\nRT connector / curl: {ratio:.2f}x ({verdict} the target of ≤ {TARGET_RATIO}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
