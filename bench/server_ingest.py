"""Built-in server throughput: report submissions per second and ticket-list latency.

Runs the real server process on 127.0.0.1 (one uvicorn worker, WAL + synchronous=FULL,
fsync per stored file) and measures:

* submissions/s of reports carrying one ~1 MB PNG screenshot at client concurrency 1, 8, 32;
* the time to list 50 tickets out of 100,000 (seeded straight into SQLite), plain and filtered;
* peers from the same run: the durable-write floor (write + fsync + rename of the same
  file plus one synchronous=FULL SQLite commit, in-process) and a full-table scan, so the
  figures read as ratios rather than absolute numbers from one machine.

    .venv/bin/python bench/server_ingest.py [--submissions 300] [--tickets 100000]

Targets (2-core machine): ≥ 100 submissions/s at concurrency 8; a list page ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sqlite3
import statistics
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from urllib3 import encode_multipart_formdata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.bundle import StepDraft, build_bundle
from agent.schema import Report, Reporter, Source
from server.seed import seed_tickets
from server.store import Store
from tests.fixtures.server import ServerProcess

SUBMIT_TARGET_PER_SECOND = 100.0
LIST_TARGET_MS = 50.0


# ---------------------------------------------------------------- a realistic screenshot
def screenshot(seed: int = 0, size: tuple[int, int] = (1920, 1080)) -> bytes:
    """A desktop-like 1920×1080 PNG of about 1 MB: wallpaper, windows of text, an error dialog."""
    rng = random.Random(seed)
    width, height = size
    wallpaper = Image.linear_gradient("L").resize(size).convert("RGB")
    texture = (
        Image.frombytes("RGB", (width // 4, height // 4), rng.randbytes((width // 4) * (height // 4) * 3))
        .resize(size, Image.Resampling.BILINEAR)
        .filter(ImageFilter.GaussianBlur(5))
    )
    image = Image.blend(wallpaper, texture, 0.25)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.rectangle((0, height - 40, width, height), fill=(30, 30, 36))
    for window in range(4):
        x0, y0 = rng.randrange(0, width // 2), rng.randrange(0, height // 2)
        x1, y1 = x0 + rng.randrange(500, 900), y0 + rng.randrange(300, 550)
        draw.rectangle((x0, y0, x1, y1), fill=(250, 250, 250), outline=(120, 120, 120))
        draw.rectangle((x0, y0, x1, y0 + 28), fill=(rng.randrange(40, 90), rng.randrange(80, 140), 200))
        draw.text((x0 + 8, y0 + 8), f"Window {window} - Document.txt", fill="white", font=font)
        for y in range(y0 + 36, y1 - 14, 14):
            words = (
                "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(2, 9)))
                for _ in range(rng.randrange(4, 14))
            )
            draw.text((x0 + 10, y), " ".join(words), fill=(20, 20, 20), font=font)
    draw.rectangle(
        (width // 2 - 200, height // 2 - 80, width // 2 + 200, height // 2 + 80),
        fill=(240, 240, 240),
        outline=(200, 0, 0),
        width=3,
    )
    draw.text((width // 2 - 180, height // 2 - 60), "Error 0x80070005: Access is denied.", fill=(200, 0, 0), font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def variant(png: bytes, number: int) -> bytes:
    """The same picture with a tEXt chunk before IEND: other bytes (and digest), still a valid PNG."""
    data = b"Comment\0bench " + str(number).encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    return png[:-12] + chunk + png[-12:]


def encoded_report(png: bytes, number: int) -> tuple[str, bytes, str]:
    picture = variant(png, number)
    report = Report(
        id=uuid.uuid4(),
        reporter=Reporter(name="Bench User", email="bench@example.test"),
        category="Software",
        description=f"benchmark report {number}",
        source=Source(kind="agent", id=f"bench-{number % 50}"),
    )
    step = StepDraft(image=picture, width=1920, height=1080, captured_at=datetime.now(UTC), caption="the error")
    bundle = build_bundle(report, [step], sysinfo={"os": "BenchOS", "number": number})
    fields: list[tuple[str, tuple[str, bytes, str]]] = [
        ("manifest", ("manifest.json", bundle.report.canonical_json(), "application/json"))
    ]
    fields += [("file", (ref.path, bundle.files[ref.path], ref.media_type)) for ref in bundle.report.files()]
    body, content_type = encode_multipart_formdata(fields)
    return str(report.id), body, content_type


# ---------------------------------------------------------------- measurements
def submit_rate(
    server: ServerProcess, token: str, bodies: list[tuple[str, bytes, str]], concurrency: int
) -> tuple[float, list[float]]:
    local = threading.local()
    latencies: list[float] = []
    lock = threading.Lock()

    def send(item: tuple[str, bytes, str]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        report_id, body, content_type = item
        started = time.perf_counter()
        response = session.post(
            f"{server.api}/reports",
            data=body,
            headers={**server.auth(token), "Content-Type": content_type, "Idempotency-Key": report_id},
            timeout=120,
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"submission failed: {response.status_code} {response.text[:200]}")
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, bodies))
    return len(bodies) / (time.perf_counter() - started), latencies


def durable_write_floor(data_dir: Path, png: bytes, *, durable: bool, rounds: int = 50) -> float:
    """Seconds per report for storing alone, in-process: the file written and renamed, one SQLite commit.

    ``durable`` adds what the server does for durability: fsync of the file and of its
    directory, and ``synchronous=FULL``; without it the same work runs unsynced.
    """
    directory = data_dir / ("floor-durable" if durable else "floor-unsynced")
    directory.mkdir()
    conn = sqlite3.connect(directory / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    for number in range(rounds):
        temp = directory / f"tmp-{number}"
        with temp.open("wb") as stream:
            stream.write(png)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        temp.replace(directory / f"blob-{number}")
        if durable:
            fd = os.open(directory, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (str(number), "x" * 2000))
        conn.execute("COMMIT")
    conn.close()
    return (time.perf_counter() - started) / rounds


def list_latency(server: ServerProcess, token: str, params: dict[str, str], runs: int = 30) -> float:
    """Median milliseconds for one GET /api/v1/tickets page, end to end over HTTP."""
    session = requests.Session()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(f"{server.api}/tickets", params=params, headers=server.auth(token), timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"list failed: {response.status_code} {response.text[:200]}")
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--submissions", type=int, default=300, help="reports per concurrency level")
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets seeded for the list test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="showdesk-bench-") as temp:
        root = Path(temp)
        os.environ.setdefault("SHOWDESK_RUNTIME_DIR", str(root / "runtime"))
        png = screenshot()
        print(f"screenshot: 1920×1080 PNG, {len(png) / 1e6:.2f} MB")
        floor = durable_write_floor(root, png, durable=True)
        unsynced = durable_write_floor(root, png, durable=False)
        print(
            f"store floor, in-process, serial: {floor * 1000:.2f} ms/report durable (fsync file + dir, FULL commit), "
            f"{unsynced * 1000:.2f} ms unsynced: durability costs {(floor - unsynced) * 1000:.2f} ms/report"
        )

        server = ServerProcess(root / "ingest", env={"SHOWDESK_RUNTIME_DIR": str(root / "runtime")}).start()
        try:
            token = server.token("submitter", name="bench")
            print()
            print(
                f"{'concurrency':>11}  {'reports':>7}  {'reports/s':>9}  {'MB/s':>6}  {'p50 ms':>7}  {'p95 ms':>7}  "
                f"{'× floor':>7}  target"
            )
            for number, concurrency in enumerate((1, 8, 32)):
                bodies = [encoded_report(png, number * 100_000 + i) for i in range(args.submissions)]
                rate, latencies = submit_rate(server, token, bodies, concurrency)
                latencies.sort()
                p50 = latencies[len(latencies) // 2] * 1000
                p95 = latencies[int(len(latencies) * 0.95)] * 1000
                megabytes = rate * len(bodies[0][1]) / 1e6
                # How far the served rate is from the durable-write floor done serially in-process.
                slowdown = (1 / rate) / floor
                target = (
                    f"≥ {SUBMIT_TARGET_PER_SECOND:.0f}/s: {'met' if rate >= SUBMIT_TARGET_PER_SECOND else 'MISSED'}"
                )
                print(
                    f"{concurrency:>11}  {len(bodies):>7}  {rate:>9.1f}  {megabytes:>6.1f}  {p50:>7.1f}  {p95:>7.1f}  "
                    f"{slowdown:>7.2f}  {target if concurrency == 8 else ''}"
                )
        finally:
            server.stop()

        list_dir = root / "list"
        store = Store(list_dir)
        started = time.perf_counter()
        seed_tickets(store, args.tickets)
        print(f"\nseeded {args.tickets:,} tickets in {time.perf_counter() - started:.1f} s")
        conn = store.connection()
        started = time.perf_counter()
        conn.execute("SELECT count(*) FROM tickets WHERE description LIKE '%printer%'").fetchone()
        scan_ms = (time.perf_counter() - started) * 1000
        store.close()

        server = ServerProcess(list_dir, env={"SHOWDESK_RUNTIME_DIR": str(root / "runtime")}).start()
        try:
            token = server.token("technician", name="bench-tech")
            first_page = requests.get(
                f"{server.api}/tickets", params={"limit": "50"}, headers=server.auth(token), timeout=30
            ).json()
            deep_cursor = str(int(first_page["next_cursor"]) - args.tickets // 2)
            cases = {
                "newest 50": {"limit": "50"},
                "page in the middle (cursor)": {"limit": "50", "cursor": deep_cursor},
                "status=open": {"limit": "50", "status": "open"},
                "category=Network": {"limit": "50", "category": "Network"},
                "q=printer": {"limit": "50", "q": "printer"},
                "source=pc-0042 (history)": {"limit": "50", "source": "pc-0042"},
                "since 7 days": {
                    "limit": "50",
                    "since": datetime.fromtimestamp(time.time() - 7 * 86400, UTC).isoformat(),
                },
                "limit=200": {"limit": "200"},
            }
            print(
                f"\n{'list of ' + format(args.tickets, ',') + ' tickets':<32}  {'median ms':>9}  {'× scan':>7}  target"
            )
            for label, params in cases.items():
                milliseconds = list_latency(server, token, params)
                verdict = "met" if milliseconds <= LIST_TARGET_MS else "MISSED"
                ratio = milliseconds / scan_ms
                print(f"{label:<32}  {milliseconds:>9.1f}  {ratio:>7.2f}  ≤ {LIST_TARGET_MS:.0f} ms: {verdict}")
            print(f"(peer: one full-table LIKE scan of the descriptions took {scan_ms:.1f} ms)")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
