"""Fitting reports to a ticket system's limits, the ticket body, and the file names every connector shares."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from agent.bundle import StepDraft, build_bundle
from agent.connectors.base import TooLargeError
from agent.connectors.body import render
from agent.connectors.common import attachment_name, bundle_path, parse_size
from agent.connectors.fitting import FitResult, Limits, estimate_wire_bytes, fit_bundle, submit_fitted
from agent.schema import Report, Source
from tests.connectors.helpers import report_bundle, screenshot


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


# ---------------------------------------------------------------- names and sizes
@pytest.mark.parametrize(("path", "name"), [
    ("steps/001.png", "step-001.png"),
    ("steps/012.webp", "step-012.webp"),
    ("steps/501.png", "step-001-original.png"),
    ("attachments/003.txt", "attachment-003.txt"),
    ("clips/002.webp", "clip-002.webp"),
    ("sysinfo.json", "sysinfo.json"),
])
def test_attachment_names_round_trip(path: str, name: str) -> None:
    assert attachment_name(path) == name
    assert bundle_path(name) == path


def test_names_that_are_not_showdesk_files() -> None:
    assert bundle_path("screenshot.png") is None
    assert bundle_path("showdesk-report-x.json") == "manifest.json"
    with pytest.raises(ValueError, match="not a path ShowDesk writes"):
        attachment_name("../etc/passwd")


@pytest.mark.parametrize(("text", "size"), [
    (1000, 1000), ("10 MiB", 10 * 1024**2), ("25MB", 25_000_000), ("400 KB", 400_000), ("1.5 GiB", 1610612736),
    ("0", 0),
])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["ten", "-5", -5, True, "5 parsecs", 1.5])
def test_bad_sizes(text: object) -> None:
    assert parse_size(text) is None


# ---------------------------------------------------------------- fitting
def test_within_limits_nothing_changes() -> None:
    bundle = report_bundle(steps=2)
    result = fit_bundle(bundle, Limits("test", max_file_bytes=10_000_000, max_request_bytes=10_000_000))
    assert result.bundle is bundle and not result.changed


def test_an_image_over_the_file_limit_is_re_encoded_then_scaled_and_noted() -> None:
    big = screenshot(50, (1920, 1080), noise=(700, 500))
    original = screenshot(51, (1920, 1080), noise=(700, 500))
    draft = StepDraft(image=big, width=1920, height=1080, captured_at=datetime(2024, 5, 1, tzinfo=UTC),
                      caption="the dialog", original=original)
    bundle = build_bundle(Report(source=Source(kind="agent", id="pc-1")), [draft])
    limit = 120_000

    result = fit_bundle(bundle, Limits("Test system", max_file_bytes=limit))

    step = result.bundle.report.steps[0]
    assert step.image.media_type == "image/webp" and step.image.path == "steps/001.webp"
    assert step.image.size <= limit and step.original is not None and step.original.size <= limit
    assert step.downscale < 1.0
    assert image_size(result.bundle.files[step.image.path]) == (step.width, step.height)
    assert step.width == round(1920 * step.downscale)
    assert image_size(result.bundle.files[step.original.path]) == (step.width, step.height)  # the same factor
    assert step.caption == "the dialog" and step.captured_at == bundle.report.steps[0].captured_at
    assert result.bundle.report.id == bundle.report.id
    [note] = result.notes
    assert note.startswith(f"Step 1 was scaled to {step.downscale * 100:.0f} %") and "Test system accepts" in note
    assert fit_bundle(bundle, Limits("Test system", max_file_bytes=limit)).bundle.to_bytes() == \
        result.bundle.to_bytes()  # the same report fits to the same bytes: replays stay replays


def test_the_request_limit_shrinks_the_largest_step_first() -> None:
    small = screenshot(52, (800, 500))
    big = screenshot(53, (1920, 1080), noise=(600, 400))
    bundle = report_bundle(screenshots=[small, big], attachment=None)
    limits = Limits("Test", max_request_bytes=len(big) // 2 + 150_000, wire_ratio=1.0)

    result = fit_bundle(bundle, limits)

    steps = result.bundle.report.steps
    assert steps[0] == bundle.report.steps[0]
    assert steps[1].image.size < len(big)
    assert result.wire_bytes <= limits.max_request_bytes  # type: ignore[operator]
    assert estimate_wire_bytes(result.bundle, limits) == result.wire_bytes


def test_what_cannot_fit_is_refused_with_the_limit_named() -> None:
    bundle = report_bundle(screenshots=[screenshot(54, (1920, 1080), noise=(900, 600))], attachment=b"x" * 1000)
    with pytest.raises(TooLargeError, match=r"step 1 \(step-001\.png\) stays over 1 KB even scaled to 25 %"):
        fit_bundle(bundle, Limits("Test", max_file_bytes=1500, file_limit_name="the test limit"))
    with pytest.raises(TooLargeError, match=r"attachment-001\.txt \(spooler\.log\) is 1000 bytes.*500 bytes"):
        fit_bundle(bundle, Limits("Test", max_file_bytes=500))
    with pytest.raises(TooLargeError, match="even with every step image shrunk"):
        fit_bundle(bundle, Limits("Test", max_request_bytes=5_000, overhead_bytes=1_000))


def test_one_more_fitting_after_a_refusal_then_a_final_answer() -> None:
    bundle = report_bundle(screenshots=[screenshot(55, (1920, 1080), noise=(500, 400))], attachment=None)
    sent: list[FitResult] = []

    def refuse_first(fitted: FitResult) -> str:
        sent.append(fitted)
        if len(sent) == 1:
            raise TooLargeError("413 from the proxy", system="Test")
        return "ticket"

    assert submit_fitted(bundle, Limits("Test"), refuse_first) == "ticket"
    assert sent[0].bundle is bundle and sent[1].wire_bytes <= sent[0].wire_bytes // 2

    def refuse_always(fitted: FitResult) -> str:
        raise TooLargeError("413 from the proxy", system="Test")

    with pytest.raises(TooLargeError, match="refused again after shrinking"):
        submit_fitted(bundle, Limits("Test"), refuse_always)


# ---------------------------------------------------------------- the body
def test_body_text_and_html() -> None:
    bundle = report_bundle(steps=2, description="It shows <script>alert(1)</script> & stops.\nSecond line.")
    body = render(bundle, notes=["Step 2 was scaled"], inline_images={"steps/001.png": "cid:one@x"})
    assert body.text.startswith("It shows <script>alert(1)</script> & stops.\nSecond line.")
    assert "Step 2 was scaled" in body.text and body.text.endswith(f"ShowDesk report id: {bundle.report.id}\n")
    assert "<script>" not in body.html and "&lt;script&gt;" in body.html
    assert body.html.count('<img src="cid:one@x"') == 1  # only the step given an inline source
    assert "Disk / is 99 % full" in body.html
