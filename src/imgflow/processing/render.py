"""Execute a plan: one shrink-on-load decode to an upright sRGB base, then every rendition from it."""

from __future__ import annotations

from functools import partial

import pyvips

from imgflow.facts import ImageFacts, Rendered, RenditionFacts
from imgflow.processing import blur, colour, encode, engine, fastjpeg, heif
from imgflow.processing.exif import Credits
from imgflow.processing.jpegscan import restarts_complete, without_header_junk
from imgflow.processing.plan import Plan, Step
from imgflow.processing.probe import Probed
from imgflow.processing.spread import Spread
from imgflow.processing.watermark import stamp
from imgflow.recipes import Rgb


def _jpeg_shrink(facts: ImageFacts, need_w: int, need_h: int) -> int:
    # libvips' shrink-on-load gives floor(side / shrink) px (and fails at 0): a 1x1 JPEG takes none
    for shrink in (8, 4, 2):
        if facts.width // shrink >= need_w and facts.height // shrink >= need_h:
            return shrink
    return 1


def _load_options(facts: ImageFacts, plan: Plan, stored_w: int, stored_h: int) -> dict[str, object]:
    if plan.all_frames:
        return {"n": -1}
    # read once, top to bottom, into the in-memory base: libvips streams it instead of holding the decode
    options: dict[str, object] = {"access": "sequential"}
    if facts.format == "jpeg":
        options["shrink"] = _jpeg_shrink(facts, stored_w, stored_h)
    elif facts.format == "webp":
        scale = max(stored_w / facts.width, stored_h / facts.height)
        if scale < 1:
            options["scale"] = scale
    return options


def decode_base(data: bytes, probed: Probed, plan: Plan) -> colour.Held:
    """The uncropped base in memory: upright, 8-bit sRGB or grey, alpha kept, no private metadata,
    scaled to the plan's largest size. Animated (toilet-roll) when some step keeps frames.

    A still image is decoded (shrink-on-load), converted and resized in its stored orientation,
    and only the small result is rotated upright: the plan's sizes are upright, so orientations
    5-8 (a quarter turn) swap width and height for everything before the rotation."""
    facts = probed.facts
    fmt = facts.format
    if fmt == "heif":

        def finish(image: pyvips.Image) -> colour.Held:
            with engine.vips_errors(fmt):
                image = colour.resize_to(colour.to_srgb(image), plan.base_width, plan.base_height)
                return colour.hold(colour.strip_private(image))

        return heif.decode(data, finish)
    try:
        return _decode_vips(data, facts, plan, lenient=False)
    except engine.ScanJunk:  # junk before a marker in the scan (hopper_bad_exif.jpg): not a truncation...
        if not restarts_complete(without_header_junk(data)):
            raise  # ...unless the scan may also be cut: libvips stopped at the junk, before any later warning
        return _decode_vips(data, facts, plan, lenient=True)


def _decode_vips(data: bytes, facts: ImageFacts, plan: Plan, *, lenient: bool) -> colour.Held:
    fmt = facts.format
    upright = (plan.base_width, plan.base_height)
    stored_w, stored_h = (upright[1], upright[0]) if facts.orientation >= 5 else upright
    options = _load_options(facts, plan, stored_w, stored_h)
    image = engine.load(data, fmt, lenient=lenient, **options)
    shrink = options.get("shrink", 1)
    if fmt == "jpeg" and not lenient and isinstance(shrink, int):  # progressive: libjpeg-turbo 3 (.fastjpeg)
        image = fastjpeg.decode(data, image, shrink) or image
    with engine.vips_errors(fmt):
        if colour.pages(image)[0] is not image:  # frames: no EXIF rotation for animations
            image = colour.strip_private(colour.to_srgb(image))
            return colour.hold(colour.per_page(image, *upright))
        image = colour.resize_to(colour.to_srgb(image), stored_w, stored_h)
        fields = image.get_fields()
        if "orientation" in fields and image.get("orientation") in range(2, 9):
            image = image.copy_memory().autorot()  # all 8 EXIF orientations (JPEG, WebP, TIFF, PNG eXIf)
            if (image.width, image.height) != upright:  # an orientation the probe did not count
                image = colour.resize_to(image, *upright)
        return colour.hold(colour.strip_private(image))


def _crop(image: pyvips.Image, step: Step) -> pyvips.Image:
    if step.crop == "none" or (image.width, step.height) == (step.width, image.get_page_height()):
        return image
    if step.crop == "attention":
        return image.smartcrop(step.width, step.height, interesting="attention")
    left = (image.width - step.width) // 2
    top = (image.get_page_height() - step.height) // 2
    frames = [f.crop(left, top, step.width, step.height) for f in colour.pages(image)]
    return colour.join_pages(frames, image)


def _finish(scaled: colour.Held, step: Step, background: Rgb, credits: Credits) -> Rendered:
    image = _crop(scaled.image, step)
    if step.rendition.watermark is not None:
        frames = [stamp(f, step.rendition.watermark) for f in colour.pages(image)]
        image = colour.join_pages(frames, image)
    data = encode.encode(image, step, background, credits, scaled)
    frames_out = len(colour.pages(image)) if step.animated else 1
    facts = RenditionFacts(
        name=step.rendition.name,
        format=step.format,
        content_type=encode.CONTENT_TYPE[step.format],
        extension=encode.EXTENSION[step.format],
        width=step.width,
        height=step.height,
        bytes=len(data),
        frames=frames_out,
    )
    return Rendered(facts=facts, data=data)


def _identity(step: Step) -> tuple[object, ...]:
    """Steps with equal identities give byte-identical outputs (the encoders are deterministic)."""
    r = step.rendition
    shape = (step.format, step.resize_width, step.resize_height, step.crop, step.width, step.height, step.animated)
    return (*shape, r.quality, r.effort, r.keep, r.watermark)


def _same_as(plan: Plan) -> dict[int, int]:
    """Step index -> the earlier step whose output it repeats (an image smaller than several sizes)."""
    first: dict[tuple[object, ...], int] = {}
    repeats: dict[int, int] = {}
    for index, step in enumerate(plan.steps):
        original = first.setdefault(_identity(step), index)
        if original != index:
            repeats[index] = original
    return repeats


def _cost_order(plan: Plan) -> list[int]:
    """Largest first (each size is scaled from the previous one); per size the slow encoders first,
    so that with two threads the big WebP starts at once while the caller carries on."""
    steps = plan.steps
    return sorted(
        range(len(steps)),
        key=lambda i: (-steps[i].resize_width * steps[i].resize_height, steps[i].format in ("jpeg", "png")),
    )


def render(
    base: colour.Held, plan: Plan, background: Rgb, credits: Credits = (), threads: int = 1
) -> tuple[tuple[Rendered, ...], pyvips.Image]:
    """Every step, each scaled from the previous un-watermarked intermediate (held in memory), its
    crop, watermark and encode spread over ``threads`` threads (see :mod:`.spread`). Steps that
    would repeat an earlier one's output exactly (same format, sizes and settings) are encoded once
    and share its bytes.

    ``credits`` (the source's Copyright/Artist) reach only ``keep: icc+copyright`` outputs. Also
    returns the smallest still intermediate of at least :data:`blur.EDGE` px (or the base's first
    frame), for the BlurHash."""
    first = colour.pages(base.image)[0]
    still = colour.hold(first) if first is not base.image else base
    current = {True: base, False: still}
    smallest = still.image
    repeats = _same_as(plan)
    order = [i for i in _cost_order(plan) if i not in repeats]
    with Spread[Rendered](threads) as spread:
        for index in order:
            step = plan.steps[index]
            source = current[step.animated]
            resized = colour.per_page(source.image, step.resize_width, step.resize_height)
            scaled = source if resized is source.image else colour.hold(resized)
            current[step.animated] = scaled
            if not step.animated and max(resized.width, resized.height) >= blur.EDGE:
                smallest = scaled.image
            spread.submit(partial(_finish, scaled, step, background, credits))
        results = spread.gather()
    done = dict(zip(order, results, strict=True))
    for index, original in repeats.items():  # one encode, the same bytes under each name
        shared = done[original]
        done[index] = shared.model_copy(
            update={"facts": shared.facts.model_copy(update={"name": plan.steps[index].rendition.name})}
        )
    return tuple(done[i] for i in range(len(plan.steps))), smallest
