from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from agent.schema import MAX_DESCRIPTION_CHARS, MAX_STEPS, Report, Reporter, Source, sniff_image_type


def test_every_text_field_is_bounded() -> None:
    with pytest.raises(ValidationError, match=f"at most {MAX_DESCRIPTION_CHARS}"):
        Report(source=Source(kind="cli", id="x"), description="a" * (MAX_DESCRIPTION_CHARS + 1))


def test_unknown_fields_are_an_error_not_dropped() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Report.model_validate({"source": {"kind": "cli", "id": "x"}, "surprise": 1})


def test_step_count_is_bounded() -> None:
    assert Report.model_fields["steps"].metadata[0].max_length == MAX_STEPS


def test_email_is_validated() -> None:
    with pytest.raises(ValidationError):
        Reporter(email="not an address")
    assert Reporter(email="a.b@example.test").email == "a.b@example.test"


def test_created_at_needs_a_time_zone() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        Report(source=Source(kind="cli", id="x"), created_at=datetime(2026, 1, 1))


def test_control_characters_are_refused() -> None:
    with pytest.raises(ValidationError, match="control characters"):
        Report(source=Source(kind="cli", id="x"), category="a\x1b[2Jb")


def test_subject_summarises_category_and_first_line() -> None:
    report = Report(source=Source(kind="cli", id="x"), category="Laptop", description="\nWon't boot\nmore")
    assert report.subject() == "Laptop: Won't boot"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"<svg xmlns=", None),
        (b"<html><script>", None),
    ],
)
def test_image_type_is_sniffed_from_content(head: bytes, kind: str | None) -> None:
    assert sniff_image_type(head) == kind


def test_a_newer_schema_version_is_refused_naming_the_versions_read() -> None:
    with pytest.raises(ValidationError, match="unknown schema version 3; this ShowDesk reads versions 1 to 2"):
        Report.model_validate({"schema_version": 3, "source": {"kind": "cli", "id": "x"}})


def test_clip_paths_are_clips_nnn_webp_only() -> None:
    from agent.schema import Clip

    ref = {"sha256": "0" * 64, "size": 10, "media_type": "image/webp"}
    facts = {"width": 10, "height": 10, "frames": 2, "duration_ms": 400, "started_at": "2026-01-01T00:00:00Z"}
    assert Clip.model_validate({"file": {**ref, "path": "clips/001.webp"}, **facts}).frames == 2
    for path in ("clips/001.png", "clips/1.webp", "attachments/001.webp", "clips/../001.webp"):
        with pytest.raises(ValidationError):
            Clip.model_validate({"file": {**ref, "path": path}, **facts})
