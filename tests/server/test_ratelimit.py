"""Per-token rate limits: the bucket's arithmetic, its memory bound, and 429s from the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from server.cli import build_parser
from server.ratelimit import RateLimit, RateLimiter, retry_after_header
from tests.fixtures.server import ServerProcess, database_for
from tests.server.helpers import api, make_bundle, query_database, submit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limiter(per_minute: float, burst: int, *, max_buckets: int = 100) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter({"submit": RateLimit(per_minute, burst)}, max_buckets=max_buckets, clock=clock), clock


# ---------------------------------------------------------------- the bucket
def test_a_burst_is_granted_then_the_next_call_waits_one_interval() -> None:
    limiter, _clock = _limiter(per_minute=12, burst=3)  # one permit every 5 s

    granted = [limiter.acquire("submit", "kiosk") for _ in range(3)]
    refused = limiter.acquire("submit", "kiosk")

    assert granted == [0.0, 0.0, 0.0]
    assert refused == pytest.approx(5.0)


def test_permits_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    limiter, clock = _limiter(per_minute=12, burst=3)
    for _ in range(3):
        limiter.acquire("submit", "kiosk")

    clock.now += 2.5  # half a permit
    half_way = limiter.acquire("submit", "kiosk")
    clock.now += 2.5
    after_interval = limiter.acquire("submit", "kiosk")
    clock.now += 3600  # an hour idle refills to the burst, not to 720 permits
    after_idle = [limiter.acquire("submit", "kiosk") for _ in range(4)]

    assert half_way == pytest.approx(2.5)
    assert after_interval == 0.0
    assert after_idle[:3] == [0.0, 0.0, 0.0]
    assert after_idle[3] == pytest.approx(5.0)


def test_refused_calls_take_no_permit() -> None:
    limiter, clock = _limiter(per_minute=60, burst=1)
    limiter.acquire("submit", "agent")
    for _ in range(50):  # a client hammering while refused does not push its wait further out
        limiter.acquire("submit", "agent")
    clock.now += 1.0

    assert limiter.acquire("submit", "agent") == 0.0


def test_each_token_has_its_own_bucket() -> None:
    limiter, _clock = _limiter(per_minute=1, burst=1)
    limiter.acquire("submit", "kiosk-1")

    assert limiter.acquire("submit", "kiosk-1") > 0
    assert limiter.acquire("submit", "kiosk-2") == 0.0


def test_rate_zero_means_no_limit() -> None:
    limiter, _clock = _limiter(per_minute=0, burst=1)

    assert all(limiter.acquire("submit", "kiosk") == 0.0 for _ in range(1000))
    assert len(limiter) == 0


def test_memory_is_bounded_and_busy_buckets_outlive_refilled_ones() -> None:
    limiter, clock = _limiter(per_minute=60, burst=2, max_buckets=10)
    limiter.acquire("submit", "busy")
    limiter.acquire("submit", "busy")  # drained: forgetting it would hand out a fresh burst
    for index in range(200):
        clock.now += 5.0  # long enough for every earlier bucket to refill
        limiter.acquire("submit", f"token-{index}")
        limiter.acquire("submit", "busy")
        limiter.acquire("submit", "busy")

    assert len(limiter) <= 10
    assert limiter.acquire("submit", "busy") > 0  # still remembered as drained


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2, 59.9)] == ["1", "1", "2", "60"]


def test_a_limit_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimit(-1, 5)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(10, 0)


def test_command_line_flags_set_the_limits() -> None:
    args = build_parser().parse_args(
        ["serve", "--submit-rate", "30", "--submit-burst", "4", "--note-rate", "0", "--note-burst", "2"]
    )
    assert (args.submit_rate, args.submit_burst, args.note_rate, args.note_burst) == (30.0, 4, 0.0, 2)
    for wrong in (["--submit-rate", "-1"], ["--submit-rate", "nan"], ["--submit-burst", "0"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", *wrong])


# ---------------------------------------------------------------- the real server
@pytest.fixture(scope="module")
def limited_server(
    tmp_path_factory: pytest.TempPathFactory, server_engine: str, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    # One report every 20 s after a burst of 3; two notes, then one every 20 s: nothing refills
    # during the test, so every count below is exact.
    server = ServerProcess(
        tmp_path_factory.mktemp("limited") / "data",
        database=database_for(server_engine, request),
        extra_args=["--submit-rate", "3", "--submit-burst", "3", "--note-rate", "3", "--note-burst", "2"],
    )
    try:
        yield server.start()
    finally:
        server.stop()


def _tickets(server: ServerProcess) -> int:
    return int(query_database(server, "SELECT count(*) FROM tickets")[0][0])


def test_a_burst_of_submissions_meets_429_with_retry_after(limited_server: ServerProcess) -> None:
    token = limited_server.token("submitter")
    bundles = [make_bundle(100 + i) for i in range(5)]
    before = _tickets(limited_server)

    answers = [submit(limited_server, token, bundle) for bundle in bundles]

    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    refused = answers[3]
    assert refused.headers["Retry-After"].isdigit()
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert "rate limit" in refused.json()["detail"]
    assert set(refused.json()) == {"detail"}
    assert _tickets(limited_server) == before + 3
    # Another kiosk is not held back by this one.
    assert submit(limited_server, limited_server.token("submitter"), make_bundle(199)).status_code == 201


def test_a_replay_of_a_stored_report_is_not_refused(limited_server: ServerProcess) -> None:
    token = limited_server.token("submitter")
    first = make_bundle(200)
    assert submit(limited_server, token, first).status_code == 201
    for seed in (201, 202):
        assert submit(limited_server, token, make_bundle(seed)).status_code == 201
    assert submit(limited_server, token, make_bundle(203)).status_code == 429

    replay = submit(limited_server, token, first)  # the client never saw its 201 and sends it again

    assert replay.status_code == 200
    assert replay.json()["replayed"] is True


def test_another_tokens_report_id_is_no_way_around_the_limit(limited_server: ServerProcess) -> None:
    owner, other = limited_server.token("submitter"), limited_server.token("submitter")
    stored = make_bundle(300)
    assert submit(limited_server, owner, stored).status_code == 201
    for seed in (301, 302, 303):
        assert submit(limited_server, other, make_bundle(seed)).status_code == 201

    borrowed = submit(limited_server, other, stored)

    assert borrowed.status_code == 429


def test_notes_and_replies_are_limited_per_token(limited_server: ServerProcess) -> None:
    ticket = submit(limited_server, limited_server.token("submitter"), make_bundle(400)).json()["ticket"]
    technician = limited_server.token("technician")
    path = f"/tickets/{ticket['id']}/notes"

    answers = [
        api(limited_server, technician, "POST", path, json={"text": f"note {i}", "internal": i % 2 == 0})
        for i in range(3)
    ]
    timeline = api(limited_server, technician, "GET", f"/tickets/{ticket['id']}").json()["timeline"]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert [e["data"].get("text") for e in timeline if e["kind"] in ("note", "reply")] == ["note 0", "note 1"]
    other = limited_server.token("technician")
    assert api(limited_server, other, "POST", path, json={"text": "from a colleague"}).status_code == 201


def test_an_unknown_key_is_still_charged(limited_server: ServerProcess) -> None:
    token = limited_server.token("submitter")
    statuses = [
        submit(limited_server, token, make_bundle(500 + i), key=str(uuid.uuid4())).status_code for i in range(4)
    ]

    # Keys that are not the report id are refused (422) but still spend permits: refusals are
    # work for the server too.
    assert statuses == [422, 422, 422, 429]
