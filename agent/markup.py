"""Mark-up of a shot: render items into the pixels, and an undoable list of items.

The items (``agent.schema.MarkupItem``) travel beside the flattened image so a technician
can toggle them; this module is the one place that decides what each item looks like.
Coordinates are pixels of the image the person marked up (before any crop).

Geometry of each kind:

============  ======================================================================
arrow         two or more points; the line runs through them, the head is at the last
rectangle     two opposite corners; an outline ``width`` pixels thick, drawn inside
highlight     two opposite corners; ``color`` at 40 % over the pixels
text          one point, the top-left corner of the text's box; ``text`` is shown on a
              contrasting background, in a font of ``text_pixel_size(item)`` pixels
marker        one point, the centre of a filled circle showing ``text`` (its number)
redaction     two opposite corners; every pixel the box touches becomes opaque black.
              ``color`` and ``width`` are ignored. Redactions are applied after every
              other item, so nothing drawn or shown underneath survives either
crop          two opposite corners; the result is cut to this box after everything else.
              If several crops are given, the last one counts
============  ======================================================================

No Qt here: the agent core, the command line and the server-side tools use it as is.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

from PIL import Image, ImageDraw, ImageFont

from agent.schema import MAX_IMAGE_PIXELS, MAX_MARKUP_ITEMS, MarkupItem, sniff_image_type

MarkupKind = Literal["arrow", "rectangle", "highlight", "text", "marker", "redaction", "crop"]
KINDS: Final[tuple[MarkupKind, ...]] = get_args(MarkupKind)
RECT_KINDS: Final[frozenset[str]] = frozenset({"rectangle", "highlight", "redaction", "crop"})

# What a new item of each kind looks like unless the person picks otherwise.
DEFAULT_COLORS: Final[dict[str, str]] = {
    "arrow": "#e5484d",
    "rectangle": "#e5484d",
    "highlight": "#ffd60a",
    "text": "#e5484d",
    "marker": "#e5484d",
    "redaction": "#000000",
    "crop": "#000000",
}
HIGHLIGHT_OPACITY: Final = 0.4
REDACTION_FILL: Final[tuple[int, int, int]] = (0, 0, 0)
TEXT_BACKGROUND_OPACITY: Final = 0.9
# Larger than any sane screen, small enough that int() of a coordinate is cheap and exact.
MAX_COORDINATE: Final = 1_000_000.0
# Anti-aliased shapes are drawn at up to this multiple and scaled down, in a mask of at most
# _MASK_BUDGET pixels (a long arrow across a 4K shot would otherwise need a 130 MB mask).
_SUPERSAMPLE: Final = 4
_MASK_BUDGET: Final = 16_000_000
_FONT_FILES: Final = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf")

Box = tuple[int, int, int, int]
"""left, top, right, bottom in pixels; right and bottom are exclusive."""
Color = tuple[int, int, int]
Encoder = Callable[[Image.Image], bytes]
Listener = Callable[[], None]


class MarkupError(ValueError):
    """Mark-up or an image that cannot be rendered; the message names the cause."""


@dataclass(frozen=True)
class FlattenResult:
    """The shot with its mark-up burnt in."""

    image_bytes: bytes
    width: int
    height: int
    has_redaction: bool

    @property
    def media_type(self) -> str | None:
        """The encoded type, read from the bytes (``image/png`` unless another encoder was given)."""
        return sniff_image_type(self.image_bytes)


# ---------------------------------------------------------------- geometry
def check_item(item: MarkupItem) -> None:
    """Raise MarkupError unless ``item`` has the points its kind needs, all finite and in range."""
    needed = {"arrow": 2, "text": 1, "marker": 1}.get(item.kind, 2)
    exact = item.kind != "arrow"
    count = len(item.points)
    if count < needed or (exact and count != needed):
        wanted = f"at least {needed}" if not exact else str(needed)
        raise MarkupError(f"a {item.kind} needs {wanted} point(s), this one has {count}")
    for x, y in item.points:
        if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > MAX_COORDINATE:
            raise MarkupError(f"a {item.kind} has a point outside ±{MAX_COORDINATE:g} pixels: ({x}, {y})")
    if item.kind == "text" and not item.text.strip():
        raise MarkupError("a text item needs some text")


def check_items(items: Sequence[MarkupItem]) -> None:
    """check_item for every item, plus the schema's bound on how many there may be."""
    if len(items) > MAX_MARKUP_ITEMS:
        raise MarkupError(f"a step takes at most {MAX_MARKUP_ITEMS} mark-up items, got {len(items)}")
    for number, item in enumerate(items, start=1):
        try:
            check_item(item)
        except MarkupError as exc:
            raise MarkupError(f"mark-up item {number}: {exc}") from exc


def normalized_rect(item: MarkupItem) -> tuple[float, float, float, float]:
    """left, top, right, bottom of a two-point item, whatever order its corners were given in."""
    (x0, y0), (x1, y1) = item.points[0], item.points[-1]
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def redaction_box(item: MarkupItem, width: int, height: int) -> Box:
    """The pixels a redaction destroys: every pixel its rectangle touches, within the image."""
    left, top, right, bottom = normalized_rect(item)
    return _clamp_box((math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom)), width, height)


def crop_box(items: Sequence[MarkupItem], width: int, height: int) -> Box | None:
    """The part of a ``width`` x ``height`` image that flattening keeps, or None for all of it.

    The flattened image's pixel (0, 0) is this box's top-left corner in the marked-up image.
    """
    crops = [item for item in items if item.kind == "crop"]
    if not crops:
        return None
    left, top, right, bottom = normalized_rect(crops[-1])
    box = _clamp_box((_round(left), _round(top), _round(right), _round(bottom)), width, height)
    if box[2] <= box[0] or box[3] <= box[1]:
        raise MarkupError(f"the crop rectangle {crops[-1].points} leaves nothing of a {width}x{height} image")
    return box


def text_pixel_size(item: MarkupItem) -> int:
    """Font size of a text item in image pixels; it grows with the item's ``width``."""
    return max(12, round(item.width * 6))


def marker_radius(item: MarkupItem) -> float:
    return max(10.0, item.width * 5)


def marker_pixel_size(item: MarkupItem) -> int:
    """Font size of a marker's number, in image pixels."""
    return max(10, round(marker_radius(item) * 1.1))


def arrow_head(width: float) -> tuple[float, float]:
    """Length and half-width of an arrow's head for a line ``width`` pixels thick."""
    return width * 4 + 8, width * 2.5 + 4


@dataclass(frozen=True)
class TextLayout:
    """Where a text item's background box and its first glyph go, in image pixels."""

    box: tuple[float, float, float, float]
    origin: tuple[float, float]
    padding: float
    font_size: int


def text_layout(item: MarkupItem) -> TextLayout:
    """The box a text item covers; the Qt preview draws the same box."""
    font_size = text_pixel_size(item)
    font = load_font(font_size)
    padding = max(3.0, font_size * 0.25)
    scratch = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, _top, right, bottom = scratch.multiline_textbbox((0, 0), item.text, font=font, anchor="la")
    ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (font_size, 0)
    text_width = right - min(left, 0)
    text_height = max(bottom, ascent + descent)
    x, y = item.points[0]
    box = (x, y, x + text_width + 2 * padding, y + text_height + 2 * padding)
    return TextLayout(box=box, origin=(x + padding - min(left, 0), y + padding), padding=padding, font_size=font_size)


def arrow_geometry(item: MarkupItem) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The shaft's points and the head's triangle (tip first) of an arrow."""
    points = list(item.points)
    head_length, head_half = arrow_head(item.width)
    (tail_x, tail_y), (tip_x, tip_y) = points[-2], points[-1]
    length = math.hypot(tip_x - tail_x, tip_y - tail_y)
    ux, uy = ((tip_x - tail_x) / length, (tip_y - tail_y) / length) if length else (1.0, 0.0)
    # A short arrow is all head; the shaft stops inside the head so its thick end cannot poke out.
    head_length = min(head_length, max(length, 1.0))
    base_x, base_y = tip_x - ux * head_length, tip_y - uy * head_length
    shaft = [*points[:-1], (base_x + ux * 0.5, base_y + uy * 0.5)]
    head = [
        (tip_x, tip_y),
        (base_x - uy * head_half, base_y + ux * head_half),
        (base_x + uy * head_half, base_y - ux * head_half),
    ]
    return shaft, head


def item_bounds(item: MarkupItem) -> tuple[float, float, float, float]:
    """left, top, right, bottom of everything an item paints, in image pixels."""
    if item.kind == "text":
        return text_layout(item).box
    if item.kind == "marker":
        (x, y), radius = item.points[0], marker_radius(item)
        return x - radius, y - radius, x + radius, y + radius
    if item.kind == "arrow":
        reach = max(item.width / 2, arrow_head(item.width)[1])
        xs = [p[0] for p in item.points]
        ys = [p[1] for p in item.points]
        return min(xs) - reach, min(ys) - reach, max(xs) + reach, max(ys) + reach
    return normalized_rect(item)


def paint_order(items: Sequence[MarkupItem]) -> list[int]:
    """Indexes of the items that paint, bottom first: redactions after all others; crops not at all."""
    drawn = [i for i, item in enumerate(items) if item.kind not in ("redaction", "crop")]
    return drawn + [i for i, item in enumerate(items) if item.kind == "redaction"]


def hit_test(items: Sequence[MarkupItem], x: float, y: float, tolerance: float = 6.0) -> int | None:
    """The index of the topmost item under the image point (x, y), or None.

    Outlines (rectangle, crop) are hit on their border only, so the items inside stay reachable.
    """
    order = paint_order(items)
    order += [i for i, item in enumerate(items) if item.kind == "crop"]
    for index in reversed(order):
        if _hits(items[index], x, y, tolerance):
            return index
    return None


def _hits(item: MarkupItem, x: float, y: float, tolerance: float) -> bool:
    if item.kind == "arrow":
        reach = item.width / 2 + tolerance
        pairs = zip(item.points, item.points[1:], strict=False)
        return any(_distance_to_segment(x, y, a, b) <= reach for a, b in pairs)
    if item.kind == "marker":
        (cx, cy) = item.points[0]
        return math.hypot(x - cx, y - cy) <= marker_radius(item) + tolerance
    left, top, right, bottom = item_bounds(item)
    inside_outer = left - tolerance <= x <= right + tolerance and top - tolerance <= y <= bottom + tolerance
    if item.kind not in ("rectangle", "crop") or not inside_outer:
        return inside_outer
    border = (item.width if item.kind == "rectangle" else 0) + tolerance
    inside_inner = left + border < x < right - border and top + border < y < bottom - border
    return not inside_inner


def _distance_to_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    length_squared = dx * dx + dy * dy
    t = 0.0 if length_squared == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length_squared))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def translated(item: MarkupItem, dx: float, dy: float) -> MarkupItem:
    """The same item moved by (dx, dy) image pixels."""
    return item.model_copy(update={"points": [(x + dx, y + dy) for x, y in item.points]})


def suggested_stroke_width(width: int, height: int) -> float:
    """A line width that reads well on an image of this size (4 px on a 1920-wide shot)."""
    return float(max(2.0, min(24.0, round(max(width, height) / 480, 1))))


def new_item(
    kind: MarkupKind,
    points: Sequence[tuple[float, float]],
    *,
    text: str = "",
    stroke_width: float = 4.0,
    color: str | None = None,
) -> MarkupItem:
    """A validated item with this kind's default colour; rectangles get normalised corners."""
    if kind in RECT_KINDS and len(points) == 2:
        (x0, y0), (x1, y1) = points
        points = [(min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))]
    item = MarkupItem(
        kind=kind,
        points=[(round(x, 2), round(y, 2)) for x, y in points],
        text=text,
        color=color or DEFAULT_COLORS[kind],
        width=stroke_width,
    )
    check_item(item)
    return item


def original_may_be_kept(items: Iterable[MarkupItem]) -> bool:
    """Whether the unmarked original may travel beside the flattened image.

    Never with a redaction: the original would hold exactly what the person blacked out.
    Never with a crop either: what a person cut away is often what they did not want shown.
    """
    return not any(item.kind in ("redaction", "crop") for item in items)


# ---------------------------------------------------------------- fonts
@functools.cache
def font_path() -> str | None:
    """The TrueType file text is drawn with, or None when Pillow's built-in font is used."""
    for name in _FONT_FILES:
        try:
            font = ImageFont.truetype(name, 12)
        except OSError:
            continue
        return str(font.path)
    return None


@functools.cache
def load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path()
    if path is not None:
        return ImageFont.truetype(path, size)
    # Pillow's scalable built-in font, so text stays legible where no DejaVu is installed.
    return ImageFont.load_default(size=size)


# ---------------------------------------------------------------- rendering
def check_image(data: bytes) -> tuple[int, int]:
    """The size of the picture in ``data``, read from its header: MarkupError if unreadable or too big.

    Nothing is decoded (a 1080p WebP decode through Pillow passes 30 MB): for a caller that decodes
    with another library and falls back to :func:`open_image`, which finds damage in the pixels.
    """
    with _opened(data) as image:
        _check_size(image)
        return image.size


def open_image(data: bytes) -> Image.Image:
    """Decode image bytes, refusing anything over the schema's pixel bound before decoding it."""
    image = _opened(data)
    _check_size(image)
    try:
        image.load()
    except (OSError, ValueError) as exc:
        raise MarkupError(f"the image is damaged ({exc})") from exc
    if image.format == "WEBP":
        # Pillow's WebP file keeps libwebp's animation decoder, and with it two more full-size
        # canvases, for as long as the image lives: a plain copy holds the pixels alone.
        plain = image.copy()
        image.close()
        return plain
    return image


def _opened(data: bytes) -> Image.Image:
    """The picture in ``data`` with its header read, not yet decoded."""
    try:
        with warnings.catch_warnings():
            # Our own bound below is lower than Pillow's bomb warning; one clear error is enough.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise MarkupError(f"the image has more than {MAX_IMAGE_PIXELS} pixels") from exc
    except (OSError, ValueError) as exc:
        raise MarkupError(f"the image cannot be read ({exc})") from exc
    return image


def render(image: bytes | Image.Image, items: Sequence[MarkupItem]) -> Image.Image:
    """The image with every item drawn, redactions over all of it, then cropped.

    The result is a new RGB image (RGBA if the source has transparency); the source is untouched.
    """
    check_items(items)
    canvas, keeps_alpha = _rgba_canvas(image)
    for index in paint_order(items):
        item = items[index]
        if item.kind != "redaction":
            _PAINTERS[item.kind](canvas, item)
    # Redactions last, straight into the pixel data: whatever was drawn or shown there is gone.
    for item in items:
        if item.kind == "redaction":
            box = redaction_box(item, *canvas.size)
            if box[2] > box[0] and box[3] > box[1]:
                canvas.paste((*REDACTION_FILL, 255), box)
    kept = crop_box(items, *canvas.size)
    if kept is not None:
        canvas = canvas.crop(kept)
    if keeps_alpha:
        return canvas
    flat = canvas.convert("RGB")
    canvas.close()  # its pixels go now, not when the caller's frame ends
    return flat


def _rgba_canvas(image: bytes | Image.Image) -> tuple[Image.Image, bool]:
    """An RGBA image to draw on, and whether the result keeps its transparency.

    Decoded from bytes, the picture is ours: an RGB one becomes RGBA in place (Pillow stores RGB
    with a spare byte per pixel, so only the alpha band is filled), and no second full-size copy
    exists at any moment. A caller's image is copied once and left untouched.
    """
    owned = isinstance(image, bytes)
    source = open_image(image) if isinstance(image, bytes) else image
    _check_size(source)
    keeps_alpha = source.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in source.info
    if owned and source.mode in ("RGB", "RGBA"):
        if source.mode == "RGB":
            source.putalpha(255)
        return source, keeps_alpha
    try:
        return source.convert("RGBA"), keeps_alpha
    except ValueError as exc:
        raise MarkupError(f"images of mode {source.mode} cannot be marked up ({exc})") from exc


def encode_png(image: Image.Image) -> bytes:
    """PNG with no metadata: nothing of the source's text chunks or EXIF (thumbnails!) is carried."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def flatten(image: bytes | Image.Image, items: Sequence[MarkupItem], *, encoder: Encoder = encode_png) -> FlattenResult:
    """Render ``items`` into ``image`` and encode the result (PNG unless ``encoder`` says otherwise)."""
    rendered = render(image, items)
    return FlattenResult(
        image_bytes=encoder(rendered),
        width=rendered.width,
        height=rendered.height,
        has_redaction=any(item.kind == "redaction" for item in items),
    )


def _check_size(image: Image.Image) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise MarkupError("the image is empty")
    if width * height > MAX_IMAGE_PIXELS:
        raise MarkupError(f"the image has {width}x{height} pixels, more than the bound of {MAX_IMAGE_PIXELS}")


def _clamp_box(box: Box, width: int, height: int) -> Box:
    left, top, right, bottom = box
    return (
        min(max(left, 0), width),
        min(max(top, 0), height),
        min(max(right, 0), width),
        min(max(bottom, 0), height),
    )


def _round(value: float) -> int:
    """Half up, unlike round(): an edge at x.5 always goes the same way."""
    return math.floor(value + 0.5)


def _rgb(color: str) -> Color:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _paint_antialiased(
    canvas: Image.Image,
    bounds: tuple[float, float, float, float],
    color: Color,
    draw_shape: Callable[[ImageDraw.ImageDraw, Callable[[float, float], tuple[float, float]], int], None],
) -> None:
    """Draw a shape into a supersampled mask of its bounds, then paint ``color`` through it."""
    left, top = math.floor(bounds[0]) - 1, math.floor(bounds[1]) - 1
    right, bottom = math.ceil(bounds[2]) + 1, math.ceil(bounds[3]) + 1
    # Only the part on the image is worth drawing; a shape far off-canvas costs nothing.
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, canvas.width), min(bottom, canvas.height)
    if right <= left or bottom <= top:
        return
    area = (right - left) * (bottom - top)
    factor = max(1, min(_SUPERSAMPLE, math.isqrt(_MASK_BUDGET // area)))
    mask = Image.new("L", ((right - left) * factor, (bottom - top) * factor), 0)

    def to_mask(x: float, y: float) -> tuple[float, float]:
        return (x - left) * factor, (y - top) * factor

    draw_shape(ImageDraw.Draw(mask), to_mask, factor)
    mask = mask.resize((right - left, bottom - top), Image.Resampling.BOX)
    canvas.paste((*color, 255), (left, top, right, bottom), mask)


def _paint_arrow(canvas: Image.Image, item: MarkupItem) -> None:
    shaft, head = arrow_geometry(item)

    def draw_shape(draw: ImageDraw.ImageDraw, at: Callable[[float, float], tuple[float, float]], factor: int) -> None:
        stroke = max(1, round(item.width * factor))
        draw.line([at(x, y) for x, y in shaft], fill=255, width=stroke, joint="curve")
        draw.polygon([at(x, y) for x, y in head], fill=255)

    _paint_antialiased(canvas, item_bounds(item), _rgb(item.color), draw_shape)


def _paint_rectangle(canvas: Image.Image, item: MarkupItem) -> None:
    left, top, right, bottom = normalized_rect(item)
    box = (_round(left), _round(top), _round(right) - 1, _round(bottom) - 1)
    if box[2] < box[0] or box[3] < box[1]:
        return
    ImageDraw.Draw(canvas).rectangle(box, outline=(*_rgb(item.color), 255), width=max(1, round(item.width)))


def _paint_translucent(canvas: Image.Image, box: Box, color: Color, opacity: float) -> None:
    left, top, right, bottom = _clamp_box(box, *canvas.size)
    if right <= left or bottom <= top:
        return
    layer = Image.new("RGBA", (right - left, bottom - top), (*color, round(255 * opacity)))
    canvas.alpha_composite(layer, dest=(left, top))


def _paint_highlight(canvas: Image.Image, item: MarkupItem) -> None:
    left, top, right, bottom = normalized_rect(item)
    _paint_translucent(
        canvas, (_round(left), _round(top), _round(right), _round(bottom)), _rgb(item.color), HIGHLIGHT_OPACITY
    )


def text_background(color: str) -> Color:
    """White behind dark text, near-black behind light text."""
    red, green, blue = _rgb(color)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return (255, 255, 255) if luminance < 160 else (24, 24, 24)


def _paint_text(canvas: Image.Image, item: MarkupItem) -> None:
    layout = text_layout(item)
    left, top, right, bottom = layout.box
    _paint_translucent(
        canvas,
        (_round(left), _round(top), _round(right), _round(bottom)),
        text_background(item.color),
        TEXT_BACKGROUND_OPACITY,
    )
    ImageDraw.Draw(canvas).multiline_text(
        layout.origin, item.text, fill=(*_rgb(item.color), 255), font=load_font(layout.font_size), anchor="la"
    )


def _paint_marker(canvas: Image.Image, item: MarkupItem) -> None:
    (x, y), radius = item.points[0], marker_radius(item)
    ring = max(1.0, radius * 0.12)

    def outer(draw: ImageDraw.ImageDraw, at: Callable[[float, float], tuple[float, float]], _factor: int) -> None:
        draw.ellipse([at(x - radius, y - radius), at(x + radius, y + radius)], fill=255)

    def inner(draw: ImageDraw.ImageDraw, at: Callable[[float, float], tuple[float, float]], _factor: int) -> None:
        r = radius - ring
        draw.ellipse([at(x - r, y - r), at(x + r, y + r)], fill=255)

    bounds = item_bounds(item)
    # A white ring keeps the marker visible on any background, including its own colour.
    _paint_antialiased(canvas, bounds, (255, 255, 255), outer)
    _paint_antialiased(canvas, bounds, _rgb(item.color), inner)
    if item.text:
        ImageDraw.Draw(canvas).text(
            (x, y),
            item.text,
            fill=(*text_background(item.color), 255),
            font=load_font(marker_pixel_size(item)),
            anchor="mm",
        )


_PAINTERS: Final[dict[str, Callable[[Image.Image, MarkupItem], None]]] = {
    "arrow": _paint_arrow,
    "rectangle": _paint_rectangle,
    "highlight": _paint_highlight,
    "text": _paint_text,
    "marker": _paint_marker,
}


# ---------------------------------------------------------------- the undoable document
class MarkupDocument:
    """The items of one shot, with undo and redo; listeners hear of every change.

    Each change is one undo step. ``coalesce=True`` on ``replace``/``move`` folds a run of
    changes to the same item (say, nudging it with the arrow keys) into a single step.
    A new crop replaces the old one: a shot has at most one.
    """

    _HISTORY_LIMIT: Final = 500

    def __init__(self, items: Iterable[MarkupItem] = ()) -> None:
        self._items: tuple[MarkupItem, ...] = ()
        self._undo: list[tuple[MarkupItem, ...]] = []
        self._redo: list[tuple[MarkupItem, ...]] = []
        self._coalescing: int | None = None
        self._listeners: list[Listener] = []
        self.reset(items, notify=False)

    # -- reading
    @property
    def items(self) -> tuple[MarkupItem, ...]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> MarkupItem:
        return self._items[index]

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def next_marker_label(self) -> str:
        """One more than the highest numbered marker, so numbers never repeat after a delete."""
        numbers = [int(item.text) for item in self._items if item.kind == "marker" and item.text.isdecimal()]
        return str(max(numbers, default=0) + 1)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener()`` after every change; returns a function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- changing
    def reset(self, items: Iterable[MarkupItem] = (), *, notify: bool = True) -> None:
        """Start over with ``items``, forgetting the history (a new shot was loaded)."""
        new_items = tuple(items)
        check_items(new_items)
        self._items = new_items
        self._undo.clear()
        self._redo.clear()
        self._coalescing = None
        if notify:
            self._notify()

    def add(self, item: MarkupItem) -> int:
        """Append ``item``; returns its index."""
        check_item(item)
        kept = tuple(i for i in self._items if not (item.kind == "crop" and i.kind == "crop"))
        if len(kept) >= MAX_MARKUP_ITEMS:
            raise MarkupError(f"a step takes at most {MAX_MARKUP_ITEMS} mark-up items")
        self._commit((*kept, item))
        return len(self._items) - 1

    def replace(self, index: int, item: MarkupItem, *, coalesce: bool = False) -> None:
        """Put ``item`` in the place of the item at ``index`` (an edit or a move)."""
        self._check_index(index)
        check_item(item)
        items = list(self._items)
        items[index] = item
        self._commit(tuple(items), coalesce_index=index if coalesce else None)

    def move(self, index: int, dx: float, dy: float, *, coalesce: bool = False) -> None:
        self._check_index(index)
        self.replace(index, translated(self._items[index], dx, dy), coalesce=coalesce)

    def remove(self, index: int) -> MarkupItem:
        self._check_index(index)
        removed = self._items[index]
        self._commit(self._items[:index] + self._items[index + 1 :])
        return removed

    def clear(self) -> None:
        """Remove every item, as one step that undo brings back."""
        if self._items:
            self._commit(())

    def undo(self) -> bool:
        """Go back one step; False when there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(self._items)
        self._items = self._undo.pop()
        self._coalescing = None
        self._notify()
        return True

    def redo(self) -> bool:
        """Go forward one undone step; False when there is nothing to redo."""
        if not self._redo:
            return False
        self._undo.append(self._items)
        self._items = self._redo.pop()
        self._coalescing = None
        self._notify()
        return True

    def _commit(self, items: tuple[MarkupItem, ...], *, coalesce_index: int | None = None) -> None:
        folds = coalesce_index is not None and coalesce_index == self._coalescing and bool(self._undo)
        if not folds:
            self._undo.append(self._items)
            del self._undo[: -self._HISTORY_LIMIT]
        self._redo.clear()
        self._items = items
        self._coalescing = coalesce_index
        self._notify()

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self._items):
            raise MarkupError(f"there is no mark-up item {index} (there are {len(self._items)})")

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
