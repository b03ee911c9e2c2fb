"""The capture's bundle written from plain data: the same bytes as the schema's path, the same bounds."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from agent.bundle import BundleError, ReportBundle, ShotStep, StepDraft, build_bundle, shot_bundle
from agent.schema import Geometry, Monitor, Report, Reporter, Source

REPORT_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
CREATED = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def image(kind: str, size: tuple[int, int] = (24, 16), color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, Any] = {"lossless": True} if kind == "WEBP" else {}
    Image.new("RGB", size, color).save(buffer, kind, **options)
    return buffer.getvalue()


def monitor_facts(index: int = 1, left: int = 0, scale: float = 1.0, name: str | None = "DP-1") -> dict[str, object]:
    geometry = {"left": left, "top": 0, "width": 1920, "height": 1080}
    return {"index": index, "name": name, "geometry": geometry, "scale": scale}


def box(left: int = 0, width: int = 1) -> dict[str, int]:
    return {"left": left, "top": 0, "width": width, "height": 1}


def shot_steps() -> list[ShotStep]:
    return [
        ShotStep(image("WEBP"), 24, 16, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), monitor_facts(), caption="left"),
        ShotStep(
            image("PNG", color=(0, 0, 255)),
            24,
            16,
            datetime(2026, 3, 4, 5, 6, 7, 120, tzinfo=UTC),
            monitor_facts(2, left=1920, scale=1.5, name=None),
            caption="right",
            capture_notes="Wayland session captured through XWayland",
        ),
        ShotStep(image("JPEG"), 24, 16, datetime(2026, 3, 4, 5, 6, 8, tzinfo=timezone(timedelta(hours=2)))),
    ]


FIELDS: dict[str, Any] = {
    "source_id": "laptop-7",
    "app_version": "0.1.0",
    "reporter_name": "Zoë",
    "reporter_email": "zoe@example.test",
    "category": "Printer",
    "description": "The printer says offline.\n\tSince Monday — «urgent».",
}
SYSINFO = {"os": {"name": "Linux", "hostname": "laptop-7"}, "cpu": {"percent": 12.5, "sample_seconds": 0.05}}


def through_the_schema(steps: list[ShotStep], fields: dict[str, Any], sysinfo: dict[str, Any] | None) -> bytes:
    """The same capture built with the schema's models, as every other part of ShowDesk builds bundles."""
    base = Report(
        id=REPORT_ID,
        created_at=CREATED,
        source=Source(kind="cli", id=fields["source_id"], app_version=fields.get("app_version", "")),
        reporter=Reporter(name=fields.get("reporter_name"), email=fields.get("reporter_email")),
        category=fields.get("category", ""),
        description=fields.get("description", ""),
    )
    drafts = [
        StepDraft(
            image=step.image,
            width=step.width,
            height=step.height,
            captured_at=step.captured_at,
            caption=step.caption,
            monitor=None if step.monitor is None else Monitor.model_validate(step.monitor),
            capture_method=step.capture_method,
            capture_notes=step.capture_notes,
        )
        for step in steps
    ]
    return build_bundle(base, drafts, sysinfo=sysinfo).to_bytes()


def written_plainly(steps: list[ShotStep], fields: dict[str, Any], sysinfo: dict[str, Any] | None) -> bytes:
    made = shot_bundle(steps, source_kind="cli", sysinfo=sysinfo, report_id=REPORT_ID, created_at=CREATED, **fields)
    assert made.report_id == REPORT_ID
    return made.data


@pytest.mark.parametrize(
    ("fields", "sysinfo"),
    [
        (FIELDS, SYSINFO),
        ({"source_id": "kiosk-hall"}, None),
        ({**FIELDS, "reporter_name": None, "reporter_email": None, "description": ""}, {}),
    ],
)
def test_the_plain_bundle_is_byte_for_byte_the_schema_bundle(
    fields: dict[str, Any], sysinfo: dict[str, Any] | None
) -> None:
    data = written_plainly(shot_steps(), fields, sysinfo)
    assert data == through_the_schema(shot_steps(), fields, sysinfo)


def test_times_are_written_as_the_schema_writes_them() -> None:
    # The schema takes a step time without a zone as it is (only the report's own time must
    # have one); the plain path writes it the same way.
    naive = datetime(2026, 3, 4, 5, 6, 7, 5)
    steps = [replace(shot_steps()[0], captured_at=naive)]
    assert written_plainly(steps, FIELDS, None) == through_the_schema(steps, FIELDS, None)
    with pytest.raises(BundleError, match="created_at: must carry a time zone"):
        shot_bundle(steps, source_kind="cli", source_id="pc", created_at=naive)


def test_the_plain_bundle_loads_validated_and_round_trips() -> None:
    data = written_plainly(shot_steps(), FIELDS, SYSINFO)
    loaded = ReportBundle.from_bytes(data)
    assert loaded.to_bytes() == data
    report = loaded.report
    assert (report.id, report.created_at, report.source.kind) == (REPORT_ID, CREATED, "cli")
    assert [step.image.media_type for step in report.steps] == ["image/webp", "image/png", "image/jpeg"]
    assert report.steps[1].monitor == Monitor(
        index=2, name=None, geometry=Geometry(left=1920, top=0, width=1920, height=1080), scale=1.5
    )
    assert report.steps[2].captured_at == datetime(2026, 3, 4, 3, 6, 8, tzinfo=UTC)
    assert loaded.sysinfo == SYSINFO


def test_a_new_report_gets_a_fresh_id_and_the_time_now() -> None:
    before = datetime.now(UTC)
    first = shot_bundle(shot_steps()[:1], source_kind="cli", source_id="pc")
    second = shot_bundle(shot_steps()[:1], source_kind="cli", source_id="pc")
    assert first.report_id != second.report_id
    report = ReportBundle.from_bytes(first.data).report
    assert report.id == first.report_id
    assert before <= report.created_at <= datetime.now(UTC)


LONG = "x" * 4001
BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("description", {"description": LONG}),
    ("category", {"category": "y" * 201}),
    ("category", {"category": "Printer\x07"}),
    ("reporter.name", {"reporter_name": "n" * 201}),
    ("reporter.name", {"reporter_name": "Ada\r\nBcc: x"}),
    ("reporter.email", {"reporter_email": "not-an-address"}),
    ("reporter.email", {"reporter_email": "ada@example.test\n"}),
    ("reporter.email", {"reporter_email": "a@b@example.test"}),
    ("reporter.email", {"reporter_email": "a" * 65 + "@example.test"}),
    ("source.id", {"source_id": ""}),
    ("source.app_version", {"app_version": "v" * 201}),
]


@pytest.mark.parametrize(("field", "change"), BAD_INPUTS)
def test_values_out_of_the_schema_bounds_are_refused_by_both_paths(field: str, change: dict[str, Any]) -> None:
    fields = {**FIELDS, **change}
    with pytest.raises(BundleError, match=field.replace(".", r"\.")):
        written_plainly(shot_steps(), fields, SYSINFO)
    with pytest.raises((ValidationError, BundleError)):
        through_the_schema(shot_steps(), fields, SYSINFO)


STEP_PROBLEMS: list[tuple[str, dict[str, Any]]] = [
    ("steps.0.caption", {"caption": "c" * 501}),
    ("steps.0.capture_notes", {"capture_notes": "n" * 201}),
    ("steps.0.width", {"width": 0}),
    ("steps.0.height", {"height": 100_001}),
    ("steps.0.monitor.scale", {"monitor": monitor_facts(scale=0.0)}),
    ("steps.0.monitor.scale", {"monitor": monitor_facts(scale=8.5)}),
    ("steps.0.monitor.index", {"monitor": monitor_facts(index=65)}),
    ("steps.0.monitor.name", {"monitor": monitor_facts(name="m" * 201)}),
    (
        "steps.0.monitor.geometry.left",
        {"monitor": {**monitor_facts(), "geometry": {"left": -100_001, "top": 0, "width": 1, "height": 1}}},
    ),
    (
        "steps.0.monitor.geometry.width",
        {"monitor": {**monitor_facts(), "geometry": {"left": 0, "top": 0, "width": 0, "height": 1}}},
    ),
]


@pytest.mark.parametrize(("field", "change"), STEP_PROBLEMS)
def test_steps_out_of_the_schema_bounds_are_refused_by_both_paths(field: str, change: dict[str, Any]) -> None:
    steps = [replace(shot_steps()[0], **change)]
    with pytest.raises(BundleError, match=field.replace(".", r"\.")):
        written_plainly(steps, FIELDS, None)
    with pytest.raises((ValidationError, BundleError)):
        through_the_schema(steps, FIELDS, None)


def test_a_step_that_is_not_an_image_and_too_many_steps_are_refused() -> None:
    with pytest.raises(BundleError, match="step 1 is not a PNG, JPEG or WebP image"):
        written_plainly([replace(shot_steps()[0], image=b"GIF89a....")], FIELDS, None)
    with pytest.raises(BundleError, match="at most 50"):
        written_plainly(shot_steps()[:1] * 51, FIELDS, None)
    with pytest.raises(BundleError, match="at least one step"):
        written_plainly([], FIELDS, None)


def test_oversized_system_information_is_refused() -> None:
    huge = {"processes": ["p" * 1000] * 2200}
    with pytest.raises(BundleError, match="system information is larger"):
        written_plainly(shot_steps(), FIELDS, huge)
    with pytest.raises(BundleError):
        through_the_schema(shot_steps(), FIELDS, huge)


def test_writing_a_capture_bundle_does_not_import_pydantic(tmp_path: Any) -> None:
    code = (
        "import sys, datetime, pathlib\n"
        "from agent.bundle import ShotStep, shot_bundle\n"
        "png = bytes.fromhex('89504e470d0a1a0a') + b'rest'\n"
        "step = ShotStep(png, 1, 1, datetime.datetime.now(datetime.UTC))\n"
        f"target = pathlib.Path({str(tmp_path / 'a.showdesk')!r})\n"
        "shot_bundle([step], source_kind='cli', source_id='pc').write(target)\n"
        "print('pydantic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert (tmp_path / "a.showdesk").stat().st_size > 0
