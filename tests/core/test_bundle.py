from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from agent.bundle import (
    MAX_COMPRESSION_RATIO,
    AttachmentDraft,
    BundleError,
    ReportBundle,
    StepDraft,
    build_bundle,
)
from agent.schema import SCHEMA_VERSION, Report, Reporter, Source


def png(width: int = 16, height: int = 12, color: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def sample_bundle() -> ReportBundle:
    base = Report(
        source=Source(kind="cli", id="laptop-7"),
        reporter=Reporter(name="Ada", email="ada@example.test"),
        category="Printer",
        description="The printer says offline.\nIt was fine yesterday.",
    )
    steps = [
        StepDraft(png(), 16, 12, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), caption="Print dialog"),
        StepDraft(png(color=(0, 0, 255)), 16, 12, datetime(2026, 1, 2, 3, 4, 9, tzinfo=UTC), caption="Error"),
    ]
    attachments = [AttachmentDraft(b"log line\n", "printer.log", "text/plain")]
    return build_bundle(base, steps, attachments, sysinfo={"os": {"name": "Linux"}})


def test_bundle_round_trips_byte_for_byte() -> None:
    data = sample_bundle().to_bytes()
    again = ReportBundle.from_bytes(data)
    assert again.to_bytes() == data
    assert [s.caption for s in again.report.steps] == ["Print dialog", "Error"]
    assert again.sysinfo == {"os": {"name": "Linux"}}
    assert again.files["attachments/001.txt"] == b"log line\n"


def test_the_manifest_is_the_reports_canonical_json_made_once() -> None:
    bundle = sample_bundle()
    manifest = bundle.manifest_json()
    assert manifest == bundle.report.canonical_json()
    assert bundle.manifest_json() is manifest


def test_a_bundle_given_another_report_makes_that_reports_manifest() -> None:
    bundle = sample_bundle()
    first = bundle.manifest_json()
    bundle.report = bundle.report.model_copy(update={"category": "Network"})
    assert bundle.manifest_json() == bundle.report.canonical_json() != first


def _stored_with(manifest: bytes, bundle: ReportBundle) -> bytes:
    """``bundle``'s file with ``manifest`` in place of the manifest it would write."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", manifest)
        for path, data in bundle.files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def test_a_bundle_read_from_its_file_sends_and_writes_the_manifest_as_stored() -> None:
    bundle = sample_bundle()
    # The same report, written by another hand: indented, keys in another order.
    stored = json.dumps(json.loads(bundle.manifest_json()), indent=1).encode()
    again = ReportBundle.from_bytes(_stored_with(stored, bundle))
    assert again.report == bundle.report
    assert again.manifest_json() == stored
    with zipfile.ZipFile(io.BytesIO(again.to_bytes())) as archive:
        assert archive.read("manifest.json") == stored


def test_bundle_written_to_disk_reads_back(tmp_path: Path) -> None:
    bundle = sample_bundle()
    target = tmp_path / "report.showdesk"
    bundle.write(target)
    assert ReportBundle.read(target).report == bundle.report
    assert [p.name for p in tmp_path.iterdir()] == ["report.showdesk"]


def test_fingerprint_changes_with_any_file() -> None:
    bundle = sample_bundle()
    other = build_bundle(
        bundle.report, [StepDraft(png(color=(1, 2, 3)), 16, 12, datetime.now(UTC))], sysinfo={"os": {}}
    )
    assert other.report.id == bundle.report.id
    assert other.report.fingerprint() != bundle.report.fingerprint()


def _rezip(entries: dict[str, bytes], *, compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _entries(bundle: ReportBundle) -> dict[str, bytes]:
    return {"manifest.json": bundle.report.canonical_json(), **bundle.files}


def test_unknown_schema_version_is_refused() -> None:
    entries = _entries(sample_bundle())
    manifest = json.loads(entries["manifest.json"])
    manifest["schema_version"] = SCHEMA_VERSION + 1
    entries["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(BundleError, match="unknown schema version"):
        ReportBundle.from_bytes(_rezip(entries))


def test_missing_file_is_named() -> None:
    entries = _entries(sample_bundle())
    del entries["steps/002.png"]
    with pytest.raises(BundleError, match=r"missing: steps/002\.png"):
        ReportBundle.from_bytes(_rezip(entries))


@pytest.mark.parametrize("name", ["../evil.png", "/etc/passwd", "steps/..\\..\\x.png", "C:/x.png"])
def test_traversal_names_are_refused(name: str) -> None:
    entries = _entries(sample_bundle())
    entries[name] = b"x"
    with pytest.raises(BundleError, match="unsafe path"):
        ReportBundle.from_bytes(_rezip(entries))


def test_unlisted_file_is_refused() -> None:
    entries = _entries(sample_bundle())
    entries["steps/009.png"] = png()
    with pytest.raises(BundleError, match="not named in the manifest"):
        ReportBundle.from_bytes(_rezip(entries))


def test_zip_bomb_ratio_is_refused() -> None:
    entries = _entries(sample_bundle())
    entries["attachments/001.txt"] = b"\0" * (MAX_COMPRESSION_RATIO * 2000)
    with pytest.raises(BundleError, match="expands more than"):
        ReportBundle.from_bytes(_rezip(entries, compress=True))


def test_too_many_entries_is_refused() -> None:
    entries = {f"attachments/{i:03d}.txt": b"x" for i in range(200)}
    entries["manifest.json"] = b"{}"
    with pytest.raises(BundleError, match="the limit is"):
        ReportBundle.from_bytes(_rezip(entries))


def test_image_that_is_not_what_it_claims_is_refused() -> None:
    bundle = sample_bundle()
    fake = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    with pytest.raises(BundleError, match="not a PNG, JPEG or WebP"):
        build_bundle(bundle.report, [StepDraft(fake, 1, 1, datetime.now(UTC))])


def test_tampered_file_fails_its_digest() -> None:
    entries = _entries(sample_bundle())
    entries["steps/001.png"] = png(color=(9, 9, 9))
    with pytest.raises(BundleError, match="does not match its size or sha256"):
        ReportBundle.from_bytes(_rezip(entries))


def test_garbage_is_not_a_bundle() -> None:
    with pytest.raises(BundleError, match="not a zip file"):
        ReportBundle.from_bytes(b"hello")


def test_malformed_manifest_json_is_named() -> None:
    entries = _entries(sample_bundle())
    entries["manifest.json"] = b"{not json"
    with pytest.raises(BundleError, match="not valid JSON"):
        ReportBundle.from_bytes(_rezip(entries))


def test_a_very_repetitive_log_still_round_trips() -> None:
    bundle = sample_bundle()
    log = b"the same line again\n" * 200_000
    big = build_bundle(bundle.report, attachments=[AttachmentDraft(log, "app.log", "text/plain")])
    data = big.to_bytes()
    assert ReportBundle.from_bytes(data).files["attachments/001.txt"] == log
