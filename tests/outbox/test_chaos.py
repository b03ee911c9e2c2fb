"""Chaos: a sending process killed with SIGKILL at random points loses and duplicates nothing."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.bundle import ReportBundle
from agent.outbox import Outbox
from tests.conftest import REPO
from tests.outbox.helpers import leftovers, make_bundle
from tests.outbox.test_end_to_end import technician, token

REPORTS = 200
SENDERS = 2
SEED = 20240501


def _delivered(directory: Path) -> int:
    try:
        return sum(1 for p in (directory / "receipts").iterdir() if p.suffix == ".json")
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_killing_the_sender_at_random_points_loses_and_duplicates_nothing(
    server_process: Any, tmp_path: Path
) -> None:
    server = server_process
    rng = random.Random(SEED)
    directory = tmp_path / "outbox"
    outbox = Outbox(directory)
    bundles: dict[str, ReportBundle] = {}
    for n in range(REPORTS):
        bundle = make_bundle(1000 + n, attachment=rng.randbytes(rng.randrange(10, 400)))
        outbox.put(bundle)
        bundles[str(bundle.report.id)] = bundle

    env = {**os.environ, "SHOWDESK_URL": server.url, "SHOWDESK_TOKEN": token(server, "submitter")}
    logs = tmp_path / "worker-logs"
    logs.mkdir()
    started = 0

    def start_worker() -> subprocess.Popen[bytes]:
        nonlocal started
        started += 1
        with (logs / f"worker-{started}.log").open("wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.outbox.flush_worker", str(directory)],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    def reap(worker: subprocess.Popen[bytes]) -> None:
        worker.wait(60)
        assert worker.returncode in (0, -signal.SIGKILL), (logs / f"worker-{started}.log").read_text()

    # Two senders at once, as the agent and `showdesk outbox flush` may be: one of them is
    # killed once a random number of further reports went out, at a random moment after
    # that (mid-upload, between the receipt and the clean-up, while starting up...).
    workers: list[subprocess.Popen[bytes]] = []
    kills = 0
    deadline = time.monotonic() + 240
    while True:
        assert time.monotonic() < deadline, f"not done after {kills} kills: {_delivered(directory)} delivered"
        for worker in [w for w in workers if w.poll() is not None]:
            reap(worker)
            workers.remove(worker)
            if worker.returncode == 0:
                break
        else:
            while len(workers) < SENDERS:
                workers.append(start_worker())
            target = _delivered(directory) + rng.randrange(0, 25)
            kill_after = rng.uniform(0.0, 0.05)
            while all(w.poll() is None for w in workers) and _delivered(directory) < target:
                time.sleep(0.005)
            if all(w.poll() is None for w in workers):
                time.sleep(kill_after)
                victim = rng.choice(workers)
                victim.send_signal(signal.SIGKILL)
                kills += 1
            continue
        break  # a sender found the outbox empty
    for worker in workers:
        reap(worker)

    print(f"chaos: {kills} kills, {started} senders started")
    assert kills >= 5, "the senders were hardly ever killed; the test proved little"
    assert outbox.list() == []
    assert leftovers(directory) == []
    receipts = {r.report_id: r for r in outbox.receipts()}
    assert set(receipts) == set(bundles)

    with technician(server) as tech:
        on_server = [str(t.report_id) for t in tech.iter_tickets(page_size=200) if str(t.report_id) in bundles]
        assert len(on_server) == len(set(on_server)) == REPORTS  # none lost, none twice
        for report_id in rng.sample(sorted(bundles), 25):
            bundle, receipt = bundles[report_id], receipts[report_id]
            for ref in bundle.report.files():
                data = tech.attachment(receipt.ticket_id, ref.path)
                assert hashlib.sha256(data).hexdigest() == ref.sha256, (report_id, ref.path)
