"""One editable step for the laptop app and the kiosk (``agent.steps``): the captured pixels and the
mark-up as data while it is edited, one freeze into the bundle's step, the original kept only when
both the caller and the mark-up allow it."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.bundle import StepDraft
from agent.markup import encode_png, flatten, new_item, open_image
from agent.steps import EditableStep, freeze_step
from tests.markup.helpers import gradient, png_bytes, source_pixel

ARROW = new_item("arrow", [(10, 10), (100, 80)])
REDACTION = new_item("redaction", [(20, 20), (120, 90)])


def captured_step(**overrides: object) -> EditableStep:
    image = gradient(240, 160)
    step = EditableStep(png_bytes(image), image.width, image.height, datetime(2024, 5, 1, tzinfo=UTC))
    for name, value in overrides.items():
        setattr(step, name, value)
    return step


def test_the_caller_decides_whether_an_allowed_original_travels() -> None:
    with_original = freeze_step(captured_step(markup=[ARROW]))
    without = freeze_step(captured_step(markup=[ARROW]), keep_original=False)

    assert with_original.original is not None
    assert open_image(with_original.original).convert("RGB").getpixel((10, 10)) == source_pixel(10, 10)
    assert without.original is None
    # Everything else is the same step: the mark-up burnt in and kept as data.
    assert without.image == with_original.image and without.markup == with_original.markup == [ARROW]


def test_a_redaction_never_keeps_the_original_whatever_the_caller_says() -> None:
    frozen = freeze_step(captured_step(markup=[ARROW, REDACTION]), keep_original=True)
    assert frozen.original is None
    redacted = open_image(frozen.image).convert("RGB")
    assert redacted.getpixel((50, 50)) != source_pixel(50, 50)


def test_an_unmarked_step_is_sent_as_captured_either_way() -> None:
    step = captured_step(caption="  the error  ")
    for keep in (True, False):
        frozen = freeze_step(step, keep_original=keep)
        assert frozen.image is step.image and frozen.original is None and frozen.markup == []
        assert frozen.caption == "the error"


def test_a_flattening_at_hand_is_sent_as_it_is_and_new_markup_drops_it() -> None:
    step = captured_step()
    made = flatten(step.image, [REDACTION], encoder=encode_png)
    step.set_markup([REDACTION], made)

    frozen = freeze_step(step, keep_original=False)
    assert frozen.image is made.image_bytes and (frozen.width, frozen.height) == (made.width, made.height)

    step.set_markup([ARROW])
    assert step.flattened is None
    refrozen = freeze_step(step, keep_original=False, encode_image=encode_png)
    assert refrozen.image == flatten(step.image, [ARROW]).image_bytes
    step.set_markup([], made)
    assert step.flattened is None and freeze_step(step).image is step.image


def test_a_marked_up_capture_is_edited_again_from_its_original() -> None:
    captured = png_bytes(gradient(240, 160))
    flattened = flatten(captured, [ARROW]).image_bytes
    draft = StepDraft(flattened, 240, 160, datetime(2024, 5, 1, tzinfo=UTC), markup=[ARROW], original=captured)

    step = EditableStep.from_step_draft(draft)

    assert step.image is captured and step.markup == [ARROW]
    plain = EditableStep.from_step_draft(StepDraft(captured, 240, 160, datetime(2024, 5, 1, tzinfo=UTC)))
    assert plain.image is captured and plain.markup == [] and plain.id != step.id
