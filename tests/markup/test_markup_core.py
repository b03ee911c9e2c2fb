"""The mark-up core: what each item does to the pixels, redaction, crop, the undoable document."""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import get_args

import pytest
from PIL import Image, PngImagePlugin

from agent.markup import (
    HIGHLIGHT_OPACITY,
    KINDS,
    MarkupDocument,
    MarkupError,
    arrow_head,
    crop_box,
    flatten,
    hit_test,
    item_bounds,
    marker_radius,
    new_item,
    original_may_be_kept,
    render,
    text_layout,
)
from agent.schema import MAX_IMAGE_PIXELS, MAX_MARKUP_ITEMS, MarkupItem
from tests.markup.helpers import box_pixels, changed_pixels, decoded, gradient, png_bytes, source_pixel

RED = (255, 0, 0)
BLACK = (0, 0, 0)


def flat(items: list[MarkupItem], image: Image.Image | None = None) -> Image.Image:
    return decoded(flatten(image if image is not None else gradient(), items)).convert("RGB")


def test_the_kinds_are_the_schemas() -> None:
    assert set(KINDS) == set(get_args(MarkupItem.model_fields["kind"].annotation))


# ---------------------------------------------------------------- each tool's pixels
def test_rectangle_draws_exactly_its_outline_inside_the_box() -> None:
    item = new_item("rectangle", [(120, 90), (40, 30)], stroke_width=4, color="#ff0000")
    after = flat([item])
    outline = {(x, y) for x, y in box_pixels(40, 30, 120, 90) if x < 44 or x >= 116 or y < 34 or y >= 86}
    assert changed_pixels(after, gradient()) == outline
    assert {after.getpixel(p) for p in outline} == {RED}


def test_highlight_blends_its_colour_over_exactly_its_box() -> None:
    item = new_item("highlight", [(10, 20), (90, 60)], color="#ffff00")
    after = flat([item])
    assert changed_pixels(after, gradient()) == box_pixels(10, 20, 90, 60)
    for x, y in [(10, 20), (50, 40), (89, 59)]:
        expected = [
            round(s * (1 - HIGHLIGHT_OPACITY) + h * HIGHLIGHT_OPACITY)
            for s, h in zip(source_pixel(x, y), (255, 255, 0), strict=True)
        ]
        assert all(abs(a - e) <= 1 for a, e in zip(after.getpixel((x, y)), expected, strict=True))


def test_arrow_has_a_shaft_and_a_wider_head_at_its_last_point() -> None:
    item = new_item("arrow", [(20, 80), (200, 80)], stroke_width=4, color="#ff0000")
    after = flat([item])
    changed = changed_pixels(after, gradient())
    left, top, right, bottom = item_bounds(item)
    assert all(left - 1 <= x <= right + 1 and top - 1 <= y <= bottom + 1 for x, y in changed)
    head_length, head_half = arrow_head(4)
    assert after.getpixel((100, 80)) == RED  # the shaft
    assert (100, 80 + 8) not in changed and (100, 80 - 8) not in changed  # the shaft is thin
    near_tip = 200 - 4
    assert after.getpixel((near_tip, 80)) == RED
    base = round(200 - head_length + 4)
    assert head_half > 10
    assert after.getpixel((base, 80 + 8)) == RED and after.getpixel((base, 80 - 8)) == RED  # the head is wide
    assert (204, 80) not in changed  # nothing beyond the tip
    assert (16, 80) not in changed  # nor behind the tail


def test_text_sits_on_a_contrasting_box_at_its_point() -> None:
    item = new_item("text", [(30, 40)], text="Hi there", stroke_width=3, color="#0000ff")
    after = flat([item])
    changed = changed_pixels(after, gradient())
    left, top, right, bottom = text_layout(item).box
    assert (30, 40) in changed
    assert all(left <= x < right + 1 and top <= y < bottom + 1 for x, y in changed)
    # The corner of the box is the padding: the background (white at 90 %) over the source.
    corner = after.getpixel((31, 41))
    assert all(c >= 0.9 * 255 for c in corner)
    glyph_pixels = [p for p in changed if after.getpixel(p) == (0, 0, 255)]
    assert len(glyph_pixels) > 30


def test_marker_is_a_ringed_disc_with_its_number() -> None:
    item = new_item("marker", [(120, 80)], text="7", stroke_width=4, color="#ff0000")
    radius = marker_radius(item)
    after = flat([item])
    changed = changed_pixels(after, gradient())
    assert after.getpixel((120 - 14, 80)) == RED  # the disc, left of the number
    assert all(c >= 240 for c in after.getpixel((120, 80 - 19)))  # the white ring
    white_in_middle = [p for p in box_pixels(110, 70, 131, 91) if after.getpixel(p) == (255, 255, 255)]
    assert len(white_in_middle) > 10  # the number
    assert all(math.dist((x + 0.5, y + 0.5), (120, 80)) <= radius + 1.5 for x, y in changed)


def test_crop_keeps_the_box_with_the_right_size_and_offset() -> None:
    items = [new_item("crop", [(150, 120), (50, 40)]), new_item("rectangle", [(60, 50), (80, 70)], color="#ff0000")]
    result = flatten(gradient(), items)
    after = decoded(result).convert("RGB")
    assert (result.width, result.height) == after.size == (100, 80)
    assert after.getpixel((0, 0)) == source_pixel(50, 40)
    assert after.getpixel((99, 79)) == source_pixel(149, 119)
    assert after.getpixel((10, 10)) == RED  # the rectangle's corner (60, 50), shifted by the crop
    assert changed_pixels(after, gradient(), offset=(50, 40)) == {
        (x, y) for x, y in box_pixels(60, 50, 80, 70) if x < 64 or x >= 76 or y < 54 or y >= 66
    }


def test_the_last_crop_counts() -> None:
    items = [new_item("crop", [(0, 0), (10, 10)]), new_item("crop", [(20, 30), (60, 50)])]
    assert crop_box(items, 240, 160) == (20, 30, 60, 50)
    assert decoded(flatten(gradient(), items)).size == (40, 20)


def test_crop_beyond_the_image_is_clamped_and_one_outside_it_refused() -> None:
    assert crop_box([new_item("crop", [(200, 100), (400, 400)])], 240, 160) == (200, 100, 240, 160)
    with pytest.raises(MarkupError, match="crop"):
        flatten(gradient(), [new_item("crop", [(300, 300), (400, 400)])])


# ---------------------------------------------------------------- redaction
def assert_blacked_out(image: Image.Image, box: set[tuple[int, int]]) -> None:
    rgb = image.convert("RGB")
    survivors = {p for p in box if rgb.getpixel(p) != BLACK}
    assert not survivors, f"{len(survivors)} pixels of the box are not the fill, e.g. {sorted(survivors)[:3]}"


def test_redaction_destroys_every_pixel_its_box_touches() -> None:
    item = new_item("redaction", [(10.5, 20.2), (50.1, 60.9)])
    result = flatten(gradient(), [item])
    after = decoded(result)
    assert result.has_redaction
    assert changed_pixels(after, gradient()) == box_pixels(10, 20, 51, 61)
    assert_blacked_out(after, box_pixels(10, 20, 51, 61))


def test_redaction_stays_solid_under_items_drawn_after_it_and_a_crop() -> None:
    redaction = new_item("redaction", [(40, 30), (140, 100)])
    later = [
        new_item("text", [(50, 40)], text="over the secret", stroke_width=3),
        new_item("highlight", [(30, 20), (150, 110)], color="#ffff00"),
        new_item("marker", [(90, 60)], text="1"),
        new_item("arrow", [(0, 0), (120, 90)], stroke_width=6),
        new_item("rectangle", [(45, 35), (135, 95)]),
        new_item("crop", [(100, 10), (230, 150)]),
    ]
    for items in ([redaction, *later], [*later, redaction], [later[0], redaction, *later[1:]]):
        result = flatten(gradient(), items)
        after = decoded(result)
        assert after.size == (130, 140)
        # The redaction box (40..140, 30..100) seen through the crop starting at (100, 10).
        assert_blacked_out(after, box_pixels(0, 20, 40, 90))
        # The items still show outside the box: the highlight's right part is yellowish.
        assert after.convert("RGB").getpixel((45, 95)) != source_pixel(145, 105)


def test_redaction_is_opaque_even_over_transparent_pixels() -> None:
    source = Image.new("RGBA", (60, 40), (255, 255, 255, 0))
    result = flatten(source, [new_item("redaction", [(5, 5), (25, 25)])])
    after = decoded(result)
    assert after.mode == "RGBA"
    assert {after.getpixel(p) for p in box_pixels(5, 5, 25, 25)} == {(0, 0, 0, 255)}
    assert after.getpixel((30, 30)) == (255, 255, 255, 0)


def test_redaction_partly_off_the_image_is_clamped() -> None:
    after = flat([new_item("redaction", [(-50, -50), (20, 10)])])
    assert changed_pixels(after, gradient()) == box_pixels(0, 0, 20, 10)


def test_flattened_image_carries_no_metadata_of_the_source() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "password hunter2")
    result = flatten(png_bytes(gradient(), pnginfo=info), [new_item("redaction", [(0, 0), (5, 5)])])
    assert b"hunter2" not in result.image_bytes
    assert "Comment" not in decoded(result).info

    exif = Image.Exif()
    exif[0x010E] = "description hunter2"  # ImageDescription
    buffer = io.BytesIO()
    gradient().save(buffer, "JPEG", exif=exif)
    assert b"hunter2" in buffer.getvalue()
    result = flatten(buffer.getvalue(), [])
    assert b"hunter2" not in result.image_bytes
    assert "exif" not in decoded(result).info


def test_original_may_be_kept_only_without_redaction_or_crop() -> None:
    assert original_may_be_kept([])
    assert original_may_be_kept([new_item("arrow", [(0, 0), (9, 9)]), new_item("text", [(1, 1)], text="x")])
    assert not original_may_be_kept([new_item("arrow", [(0, 0), (9, 9)]), new_item("redaction", [(0, 0), (1, 1)])])
    assert not original_may_be_kept([new_item("crop", [(0, 0), (9, 9)])])
    assert not flatten(gradient(), [new_item("crop", [(0, 0), (9, 9)])]).has_redaction


# ---------------------------------------------------------------- input, output
def test_flatten_is_deterministic_and_items_survive_a_json_round_trip() -> None:
    items = [
        new_item("arrow", [(10, 10), (100, 90)]),
        new_item("text", [(20, 100)], text="Zwei Wörter"),
        new_item("marker", [(200, 30)], text="3"),
        new_item("redaction", [(150, 100), (220, 150)]),
    ]
    first = flatten(png_bytes(gradient()), items)
    again = [MarkupItem.model_validate_json(item.model_dump_json()) for item in items]
    assert flatten(png_bytes(gradient()), again).image_bytes == first.image_bytes
    assert first.media_type == "image/png"


def test_a_given_encoder_is_used() -> None:
    def jpeg(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=80)
        return buffer.getvalue()

    result = flatten(gradient(), [], encoder=jpeg)
    assert result.media_type == "image/jpeg"
    assert (result.width, result.height) == (240, 160)


def test_source_image_object_is_left_untouched() -> None:
    source = gradient()
    render(source, [new_item("redaction", [(0, 0), (50, 50)])])
    assert source.getpixel((10, 10)) == source_pixel(10, 10)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds no pixels: only a header-first check can refuse it cheaply."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"") + _png_chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"not an image", "cannot be read"),
        (_png_header_only(10_000, 6_000), str(MAX_IMAGE_PIXELS)),
        (_png_header_only(20_000, 20_000), str(MAX_IMAGE_PIXELS)),
    ],
    ids=["garbage", "over-the-bound", "decompression-bomb"],
)
def test_bad_images_are_refused_with_the_cause(image: bytes, message: str) -> None:
    with pytest.raises(MarkupError, match=message):
        flatten(image, [])


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (MarkupItem(kind="arrow", points=[(1, 1)]), "arrow needs at least 2"),
        (MarkupItem(kind="rectangle", points=[(1, 1), (2, 2), (3, 3)]), "rectangle needs 2"),
        (MarkupItem(kind="marker", points=[]), "marker needs 1"),
        (MarkupItem(kind="text", points=[(1, 1)], text="  "), "needs some text"),
        (MarkupItem(kind="redaction", points=[(1, 1), (math.nan, 2)]), "outside"),
        (MarkupItem(kind="highlight", points=[(1, 1), (1e9, 2)]), "outside"),
    ],
)
def test_bad_items_are_refused_naming_the_item(item: MarkupItem, message: str) -> None:
    good = new_item("arrow", [(0, 0), (5, 5)])
    with pytest.raises(MarkupError, match=f"item 2: .*{message}"):
        flatten(gradient(), [good, item])


# ---------------------------------------------------------------- hit testing
def test_hit_test_finds_the_topmost_item_and_rectangles_by_their_border() -> None:
    items = [
        new_item("text", [(50, 50)], text="under"),
        new_item("rectangle", [(10, 10), (200, 150)], stroke_width=4),
        new_item("redaction", [(40, 40), (80, 70)]),
        new_item("marker", [(150, 100)], text="1"),
        new_item("arrow", [(0, 200), (100, 200)]),
    ]
    assert hit_test(items, 60, 60) == 2  # the redaction paints over the text
    assert hit_test(items, 12, 80) == 1  # on the rectangle's border
    assert hit_test(items, 120, 120, tolerance=2) is None  # inside the rectangle, nothing there
    assert hit_test(items, 155, 95) == 3
    assert hit_test(items, 50, 203) == 4
    assert hit_test(items, 230, 230) is None


# ---------------------------------------------------------------- the document
def arrow(n: int) -> MarkupItem:
    return new_item("arrow", [(n, n), (n + 10, n + 10)])


def test_document_undo_redo_sequence_and_listeners() -> None:
    document = MarkupDocument()
    calls: list[tuple[MarkupItem, ...]] = []
    unsubscribe = document.subscribe(lambda: calls.append(document.items))
    assert not document.undo() and not document.redo() and calls == []
    for n in range(3):
        assert document.add(arrow(n)) == n
    assert document.items == (arrow(0), arrow(1), arrow(2))
    assert document.undo() and document.undo()
    assert document.items == (arrow(0),)
    assert document.redo()
    assert document.items == (arrow(0), arrow(1))
    assert document.can_redo
    document.add(arrow(9))  # a new change forgets what was undone
    assert not document.can_redo and not document.redo()
    assert document.items == (arrow(0), arrow(1), arrow(9))
    assert len(calls) == 3 + 3 + 1
    assert calls[-1] == document.items
    unsubscribe()
    document.undo()
    assert len(calls) == 7


def test_document_edit_move_remove_clear_are_each_one_step() -> None:
    document = MarkupDocument([arrow(0), new_item("text", [(5, 5)], text="old")])
    assert not document.can_undo  # a loaded document starts without history
    document.replace(1, document[1].model_copy(update={"text": "new"}))
    document.move(0, 3, -2)
    assert document[0].points == [(3, -2), (13, 8)]
    removed = document.remove(1)
    assert removed.text == "new"
    document.clear()
    assert document.items == ()
    document.clear()  # nothing to clear is not a step
    expected = [
        (arrow(0).model_copy(update={"points": [(3, -2), (13, 8)]}),),
        (arrow(0).model_copy(update={"points": [(3, -2), (13, 8)]}), removed),
        (arrow(0), removed),
        (arrow(0), new_item("text", [(5, 5)], text="old")),
    ]
    for items in expected:
        assert document.undo()
        assert document.items == items
    assert not document.can_undo


def test_coalesced_moves_fold_into_one_step_until_something_else_happens() -> None:
    document = MarkupDocument([arrow(0), arrow(50)])
    for _ in range(5):
        document.move(0, 1, 0, coalesce=True)
    document.move(1, 0, 1, coalesce=True)  # another item: a new step
    document.move(1, 0, 1, coalesce=True)
    assert document[0].points[0] == (5, 0)
    assert document.undo()
    assert document[1] == arrow(50) and document[0].points[0] == (5, 0)
    assert document.undo()
    assert document.items == (arrow(0), arrow(50))
    # After an undo, a coalescing move starts a fresh step rather than joining an old one.
    document.redo()
    document.move(0, 1, 0, coalesce=True)
    document.undo()
    assert document[0].points[0] == (5, 0)


def test_a_new_crop_replaces_the_old_one_in_one_undoable_step() -> None:
    document = MarkupDocument([new_item("crop", [(0, 0), (10, 10)]), arrow(1)])
    index = document.add(new_item("crop", [(5, 5), (50, 50)]))
    assert [item.kind for item in document.items] == ["arrow", "crop"] and index == 1
    document.undo()
    assert document[0].points == [(0, 0), (10, 10)]


def test_marker_numbers_keep_counting_after_a_delete() -> None:
    document = MarkupDocument()
    for _ in range(3):
        document.add(new_item("marker", [(1, 1)], text=document.next_marker_label()))
    assert [item.text for item in document.items] == ["1", "2", "3"]
    document.remove(1)
    assert document.next_marker_label() == "4"
    document.remove(1)
    assert document.next_marker_label() == "2"


def test_document_refuses_bad_changes_and_keeps_its_items() -> None:
    document = MarkupDocument([arrow(0)])
    with pytest.raises(MarkupError, match="no mark-up item 3"):
        document.remove(3)
    with pytest.raises(MarkupError, match="needs"):
        document.add(MarkupItem(kind="marker", points=[]))
    for n in range(MAX_MARKUP_ITEMS - 1):
        document.add(arrow(n))
    with pytest.raises(MarkupError, match=str(MAX_MARKUP_ITEMS)):
        document.add(arrow(1))
    assert len(document) == MAX_MARKUP_ITEMS
    with pytest.raises(MarkupError, match=str(MAX_MARKUP_ITEMS)):
        MarkupDocument([arrow(0)] * (MAX_MARKUP_ITEMS + 1))


def test_an_image_mode_pillow_cannot_convert_is_refused_with_the_cause() -> None:
    with pytest.raises(MarkupError, match="mode La"):
        flatten(Image.new("La", (4, 4)), [])
