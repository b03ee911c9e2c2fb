"""Properties of the bundle format: every bundle the writer makes, the reader loads, byte for byte;
and whatever bytes the reader is given, it loads them or refuses them with a BundleError."""

from __future__ import annotations

import io
import zipfile
import zlib
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.bundle import (
    MAX_COMPRESSION_RATIO,
    AttachmentDraft,
    BundleError,
    ReportBundle,
    StepDraft,
    build_bundle,
    within_compression_bound,
)
from agent.schema import Report, Reporter, Source
from tests.core.test_bundle import png

# Deterministic and bounded: the same examples on every run, a few seconds in all.
BOUNDED = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_BASE = Report(
    source=Source(kind="agent", id="laptop-7"),
    reporter=Reporter(name="Ada", email="ada@example.test"),
    category="Printer",
    description="It prints blank pages.",
)
_STEP = StepDraft(png(), 16, 12, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

# Repetitive text of many sizes is what lands on the edge of the compression bound (a log
# that says the same line again and again); random bytes and the empty file are the other ends.
_repetitive = st.builds(
    lambda unit, count: unit * count,
    st.binary(min_size=1, max_size=24) | st.sampled_from([b"a", b"\0", b"spooler: retry\n", b"ERROR x\r\n"]),
    st.integers(min_value=0, max_value=60_000),
)
_contents = _repetitive | st.binary(max_size=4096) | st.just(b"")
_media_types = st.sampled_from(["text/plain", "application/octet-stream", "application/json", "image/png"])


def _gap_example() -> bytes:
    """A log in the gap the old rule left: zlib-framed size within the bound, raw deflate past it."""
    for length in range(1, 200_000):
        data = b"a" * length
        framed = len(zlib.compress(data, 6))
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        raw = len(deflater.compress(data) + deflater.flush())
        if length <= MAX_COMPRESSION_RATIO * framed and not within_compression_bound(length, raw):
            return data
    raise AssertionError("no length falls between the two rules")


@BOUNDED
@given(contents=st.lists(st.tuples(_contents, _media_types), min_size=1, max_size=3))
@example(contents=[(_gap_example(), "text/plain")])
@example(contents=[(b"", "text/plain")])
def test_every_bundle_the_writer_makes_the_reader_loads(contents: list[tuple[bytes, str]]) -> None:
    attachments = [AttachmentDraft(data, f"file-{n}", media) for n, (data, media) in enumerate(contents)]
    bundle = build_bundle(_BASE, [_STEP], attachments, sysinfo={"os": {"name": "Linux"}})
    data = bundle.to_bytes()

    loaded = ReportBundle.from_bytes(data)

    assert loaded.files == bundle.files
    assert [loaded.files[a.file.path] for a in loaded.report.attachments] == [d for d, _m in contents]
    assert loaded.to_bytes() == data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            assert within_compression_bound(info.file_size, info.compress_size), info


def test_the_gap_example_really_is_deflatable_past_the_bound() -> None:
    # The example above must sit where the old writer deflated and the reader refused.
    data = _gap_example()
    assert len(data) <= MAX_COMPRESSION_RATIO * len(zlib.compress(data, 6))


_VALID = build_bundle(
    _BASE, [_STEP], [AttachmentDraft(b"spooler: retry\n" * 300, "spool.log", "text/plain")]
).to_bytes()


@BOUNDED
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(_VALID) - 1), st.integers(min_value=0, max_value=255)),
        min_size=1,
        max_size=6,
    ),
    cut=st.none() | st.integers(min_value=0, max_value=len(_VALID)),
)
def test_damaged_bundles_load_or_are_refused_with_a_reason(edits: list[tuple[int, int]], cut: int | None) -> None:
    damaged = bytearray(_VALID)
    for position, value in edits:
        damaged[position] = value
    data = bytes(damaged[:cut] if cut is not None else damaged)
    try:
        loaded = ReportBundle.from_bytes(data)
    except BundleError as exc:
        assert str(exc)
    else:
        # A change the format does not care about (a timestamp, an attribute) may load; the
        # report and its files must then be exactly the original's.
        original = ReportBundle.from_bytes(_VALID)
        assert loaded.report == original.report and loaded.files == original.files
