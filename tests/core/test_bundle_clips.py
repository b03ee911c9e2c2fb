"""Clips in the report format: schema version 2, the facts agreeing with the file, old readers refusing.

A report with a clip is version 2; one without stays version 1, byte for byte what version 1
wrote, so a reader one version behind reads it. That reader, taken from the last commit before
version 2, refuses a report with a clip with a message naming the version.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from agent.bundle import BundleError, ClipDraft, ReportBundle, StepDraft, build_bundle
from agent.clips import encode_clip
from agent.markup import new_item
from agent.schema import CLIPS_SCHEMA_VERSION, FIRST_SCHEMA_VERSION, Report, Reporter, Source, animation_facts
from tests.clips.synthetic import marked_frame, marked_recording, recording

REPO = Path(__file__).resolve().parents[2]
# The last commit whose reader knows only schema version 1.
VERSION_1_COMMIT = "48ab909"


def png(color: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buffer, "PNG")
    return buffer.getvalue()


def base() -> Report:
    return Report(source=Source(kind="agent", id="laptop-7"), description="The dialog flashes and goes")


def clip_bundle() -> ReportBundle:
    clip = encode_clip(marked_recording(6, 0.2), redactions=[new_item("redaction", [(0.0, 0.0), (20.0, 20.0)])])
    step = StepDraft(png(), 16, 12, datetime(2026, 1, 2, tzinfo=UTC), caption="after")
    return build_bundle(base(), [step], clips=[clip.draft("what just happened")], sysinfo={"os": "Linux"})


def test_a_report_with_a_clip_is_version_2_and_round_trips_byte_for_byte() -> None:
    bundle = clip_bundle()
    assert bundle.report.schema_version == CLIPS_SCHEMA_VERSION
    (clip,) = bundle.report.clips
    assert (clip.file.path, clip.frames, clip.duration_ms, clip.width, clip.height) == (
        "clips/001.webp", 6, 1200, 160, 120,
    )
    assert clip.caption == "what just happened" and [r.kind for r in clip.redactions] == ["redaction"]
    data = bundle.to_bytes()
    again = ReportBundle.from_bytes(data)
    assert again.to_bytes() == data
    assert again.files["clips/001.webp"] == bundle.files["clips/001.webp"]


def test_a_report_without_clips_stays_version_1_with_no_clips_key() -> None:
    bundle = build_bundle(base(), [StepDraft(png(), 16, 12, datetime(2026, 1, 2, tzinfo=UTC))])
    assert bundle.report.schema_version == FIRST_SCHEMA_VERSION
    manifest = json.loads(bundle.report.canonical_json())
    assert manifest["schema_version"] == 1 and "clips" not in manifest
    assert "language" not in manifest["reporter"], "version 1 is written exactly as version 1 wrote it"


def test_the_persons_language_needs_version_2_and_travels_with_the_report() -> None:
    chosen = base().model_copy(update={"reporter": Reporter(name="Ana", language="de")})
    bundle = build_bundle(chosen, [StepDraft(png(), 16, 12, datetime(2026, 1, 2, tzinfo=UTC))])
    assert bundle.report.schema_version == CLIPS_SCHEMA_VERSION
    again = ReportBundle.from_bytes(bundle.to_bytes())
    assert again.report.reporter.language == "de"
    # Made in code without a version, a report takes the oldest that holds it.
    assert Report(source=Source(kind="kiosk", id="k"), reporter=Reporter(language="en")).schema_version == 2
    manifest = json.loads(bundle.report.canonical_json())
    manifest["schema_version"] = 1
    with pytest.raises(ValueError, match="language needs schema version 2"):
        Report.model_validate(manifest)
    with pytest.raises(ValueError, match="language"):
        Reporter(language="German; DROP TABLE")


def test_a_still_clip_takes_its_length_from_the_manifest() -> None:
    clip = encode_clip(recording([marked_frame(2)] * 4, [0.0, 0.2, 0.4, 0.6], 0.8))
    bundle = build_bundle(base(), clips=[clip.draft()])
    (entry,) = bundle.report.clips
    assert (entry.frames, entry.duration_ms) == (1, 800)
    assert ReportBundle.from_bytes(bundle.to_bytes()).report.clips[0].duration_ms == 800


def _rewritten(bundle: ReportBundle, change: dict[str, object]) -> bytes:
    manifest = json.loads(bundle.report.canonical_json())
    manifest["clips"][0].update(change)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for path, data in bundle.files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"frames": 5}, "the manifest says 160x120, 5 frames"),
        ({"duration_ms": 1000}, "1000 ms"),
        ({"width": 161}, "the manifest says 161x120"),
        ({"frames": 2000}, "less than or equal to 1200"),
        ({"redactions": [{"kind": "arrow", "points": [[1, 1], [2, 2]]}]}, "redaction boxes only"),
        ({"width": 8000, "height": 6000, "frames": 100}, "frame pixels"),
    ],
)
def test_clip_facts_that_disagree_with_the_file_or_a_bound_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(BundleError, match=message):
        ReportBundle.from_bytes(_rewritten(clip_bundle(), change))


def test_a_clip_in_a_version_1_manifest_is_refused() -> None:
    bundle = clip_bundle()
    manifest = json.loads(bundle.report.canonical_json())
    manifest["schema_version"] = 1
    with pytest.raises(ValueError, match="clips need schema version 2"):
        Report.model_validate(manifest)


def test_a_file_that_is_no_webp_clip_is_not_bundled() -> None:
    now = datetime.now(UTC)
    with pytest.raises(BundleError, match="not a WebP clip"):
        build_bundle(base(), clips=[ClipDraft(png(), now, 1000)])


def test_the_animation_facts_are_read_from_the_container() -> None:
    clip = encode_clip(marked_recording(3, 0.25))
    facts = animation_facts(clip.data)
    assert facts is not None
    assert (facts.width, facts.height, facts.frames, facts.duration_ms, facts.animated) == (160, 120, 3, 750, True)
    assert facts.frame_pixels == 3 * 160 * 120
    assert animation_facts(clip.data[:-3]) is None
    assert animation_facts(png()) is None


def _version_1_reader(tmp_path: Path) -> Path:
    """The report reader as of the last version-1 commit, as a package of its own."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("the version-1 reader is taken from the git history, which this checkout lacks")
    package = tmp_path / "v1" / "agent"
    package.mkdir(parents=True)
    for name in ("__init__.py", "report_format.py", "read_models.py", "schema.py"):
        shown = subprocess.run(
            [git, "show", f"{VERSION_1_COMMIT}:agent/{name}"], cwd=REPO, capture_output=True, check=False, timeout=30
        )
        if shown.returncode != 0:
            pytest.skip(f"commit {VERSION_1_COMMIT} is not in this checkout's history")
        (package / name).write_bytes(shown.stdout)
    return package.parent


def _read_with_version_1(reader: Path, manifest: bytes) -> str:
    code = (
        "import sys; from agent.schema import parse_report, ReportFormatError\n"
        "try:\n    parse_report(sys.stdin.buffer.read()); print('READ')\n"
        "except ReportFormatError as exc:\n    print(exc)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(reader)}
    done = subprocess.run(
        [sys.executable, "-c", code], input=manifest, capture_output=True, check=True, timeout=60, env=env, cwd=reader
    )
    return done.stdout.decode()


def test_the_version_1_reader_refuses_a_clip_report_by_its_version_and_reads_one_without(tmp_path: Path) -> None:
    reader = _version_1_reader(tmp_path)
    refused = _read_with_version_1(reader, clip_bundle().report.canonical_json())
    assert "unknown schema version 2; this ShowDesk reads version 1" in refused
    plain = build_bundle(base(), [StepDraft(png(), 16, 12, datetime(2026, 1, 2, tzinfo=UTC))])
    assert _read_with_version_1(reader, plain.report.canonical_json()).strip() == "READ"
