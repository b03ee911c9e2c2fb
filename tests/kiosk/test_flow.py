"""The state machine and the session model, without a widget."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.bundle import StepDraft
from kiosk.badge import EV_KEY, ReaderKeys
from kiosk.flow import FlowError, KioskFlow, Stage
from kiosk.session import KioskSession, Outcome, SessionError


def small_step() -> StepDraft:
    return StepDraft(image=b"\x89PNG\r\n\x1a\n...", width=10, height=10, captured_at=datetime.now(UTC))


def test_the_flow_goes_forward_only_when_each_stage_is_satisfied(tmp_path: Path) -> None:
    session = KioskSession(tmp_path)
    flow = KioskFlow(session)
    changes: list[tuple[Stage, Stage]] = []
    flow.on_stage(lambda old, new: changes.append((old, new)))
    assert flow.advance() is Stage.WHO
    with pytest.raises(FlowError, match="who"):
        flow.advance()
    session.identify("Ada Lovelace", "ada@example.org")
    assert flow.advance() is Stage.WHAT
    with pytest.raises(FlowError, match="category"):
        flow.advance()
    session.choose_category("printer")
    assert flow.advance() is Stage.SHOW
    assert flow.advance() is Stage.REVIEW  # steps may be skipped
    assert flow.advance() is Stage.SEND
    with pytest.raises(FlowError, match="outbox"):
        flow.advance()
    session.finish(Outcome(report_id=session.report_id))
    with pytest.raises(FlowError, match="already on its way"):
        flow.back()
    assert flow.advance() is Stage.DONE
    with pytest.raises(FlowError):
        flow.advance()
    assert [new for _old, new in changes] == [
        Stage.WHO, Stage.WHAT, Stage.SHOW, Stage.REVIEW, Stage.SEND, Stage.DONE,
    ]


def test_back_and_reset(tmp_path: Path) -> None:
    session = KioskSession(tmp_path)
    flow = KioskFlow(session)
    resets: list[str] = []
    flow.on_reset(resets.append)
    flow.advance()
    session.identify_guest()
    flow.advance()
    session.choose_category("laptop")
    flow.advance()
    assert flow.back() is Stage.WHAT
    assert flow.back() is Stage.WHO
    assert session.identified  # going back keeps what was entered …
    assert flow.back() is Stage.WELCOME
    assert not session.identified and resets == ["cancel"]  # … until the person leaves
    assert flow.back() is Stage.WELCOME


def test_reset_wipes_memory_and_temporary_files(tmp_path: Path) -> None:
    session = KioskSession(tmp_path / "sessions")
    flow = KioskFlow(session)
    session.identify("Ada Lovelace", "ada@example.org")
    session.add_step(small_step())
    session.set_sysinfo({"os": {"name": "x"}})
    scratch = session.temp_dir / "photo.png"
    scratch.write_bytes(b"private")
    old_id = session.report_id
    flow.reset("idle")
    assert not scratch.exists() and list((tmp_path / "sessions").iterdir()) == []
    assert (session.name, session.email, session.steps, session.sysinfo) == ("", "", [], None)
    assert session.report_id != old_id


def test_identity_rules() -> None:
    session = KioskSession()
    for name, email, field in (
        ("", "a@example.org", "name"),
        ("Ada", "ada@example", "email"),
        ("Ada", "ada example.org", "email"),
        ("Ada", "a" * 65 + "@example.org", "email"),
    ):
        with pytest.raises(SessionError) as caught:
            session.identify(name, email)
        assert caught.value.field == field
    session.identify("  Ada  ", " ada@example.org ")
    assert (session.name, session.email) == ("Ada", "ada@example.org")
    session.identify_badge("0042-1337")
    assert session.reporter().badge_id == "0042-1337" and session.reporter().email is None
    with pytest.raises(SessionError):
        session.identify_badge("\x00\x01")


def test_the_readers_key_events_make_a_scan_at_enter() -> None:
    keys = ReaderKeys(min_length=4)

    def feed(*events: tuple[int, int]) -> list[str]:
        scans = [keys.event(EV_KEY, code, value) for code, value in events]
        return [scan for scan in scans if scan is not None]

    # "0A-7" then Enter: digits, a shifted letter, a sign; releases and repeats as a reader sends them.
    assert feed((11, 1), (11, 0), (42, 1), (30, 1), (30, 0), (42, 0), (12, 1), (12, 0), (8, 1), (8, 0), (28, 1)) == [
        "0A-7"
    ]
    # The keypad's digits and its Enter.
    assert feed((79, 1), (80, 1), (81, 1), (75, 1), (96, 1)) == ["1234"]
    # Too short is no card (a stray key press, a double read).
    assert feed((2, 1), (3, 1), (28, 1)) == []
    # Events that are not keys (sync, scan codes) change nothing.
    assert keys.event(0, 0, 0) is None and keys.event(4, 4, 458782) is None
    assert feed((2, 1), (3, 1), (4, 1), (5, 1), (28, 1)) == ["1234"]
