"""The state machine and the session model, without a widget."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.bundle import StepDraft
from kiosk.badge import BurstDetector
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


def test_a_reader_burst_is_a_badge_and_typing_is_not() -> None:
    detector = BurstDetector(max_interval_ms=50, min_length=4)
    for index, char in enumerate("04829174"):
        detector.key(char, 1000 + index * 8)
    assert detector.enter(1000 + 8 * 8) == "04829174"
    for index, char in enumerate("Ada"):
        detector.key(char, 5000 + index * 180)
    assert detector.enter(5000 + 3 * 180) is None
    # Fast but too short (a double key press) is not a badge.
    detector.key("a", 9000)
    detector.key("b", 9005)
    assert detector.enter(9010) is None
    # A pause before Enter means a person pressed it.
    for index, char in enumerate("04829174"):
        detector.key(char, 12000 + index * 8)
    assert detector.enter(12000 + 8 * 8 + 400) is None
    # Typing, then a burst: only the burst counts.
    for index, char in enumerate("Ada "):
        detector.key(char, 20000 + index * 200)
    for index, char in enumerate("77770001"):
        detector.key(char, 21000 + index * 6)
    assert detector.enter(21000 + 8 * 6) == "77770001"
