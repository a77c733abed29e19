"""Execute a plan: one shrink-on-load decode to an upright sRGB base, then every rendition from it."""

from __future__ import annotations

import pyvips

from imgflow.facts import ImageFacts, Rendered, RenditionFacts
from imgflow.processing import colour, encode, engine, heif
from imgflow.processing.exif import Credits
from imgflow.processing.plan import Plan, Step
from imgflow.processing.probe import Probed
from imgflow.processing.watermark import stamp
from imgflow.recipes import Rgb


def _jpeg_shrink(facts: ImageFacts, need_w: int, need_h: int) -> int:
    for shrink in (8, 4, 2):
        if -(-facts.width // shrink) >= need_w and -(-facts.height // shrink) >= need_h:
            return shrink
    return 1


def decode_base(data: bytes, probed: Probed, plan: Plan) -> pyvips.Image:
    """The uncropped base in memory: upright, 8-bit sRGB or grey, alpha kept, no private metadata,
    scaled to the plan's largest size. Animated (toilet-roll) when some step keeps frames."""
    facts = probed.facts
    fmt = facts.format
    if fmt == "heif":
        image = heif.decode(data)
        with engine.vips_errors(fmt):
            image = colour.resize_to(colour.to_srgb(image), plan.base_width, plan.base_height)
            return colour.strip_private(image).copy_memory()
    swap = facts.orientation >= 5
    need_w, need_h = (plan.base_height, plan.base_width) if swap else (plan.base_width, plan.base_height)
    options: dict[str, object] = {}
    if plan.all_frames:
        options["n"] = -1
    elif fmt == "jpeg":
        options["shrink"] = _jpeg_shrink(facts, need_w, need_h)
    elif fmt == "webp":
        scale = max(need_w / facts.width, need_h / facts.height)
        if scale < 1:
            options["scale"] = scale
    image = engine.load(data, fmt, **options)
    with engine.vips_errors(fmt):
        if colour.pages(image)[0] is image:
            image = image.autorot()  # all 8 EXIF orientations (JPEG, WebP, TIFF, PNG eXIf)
        image = colour.strip_private(colour.to_srgb(image))
        image = colour.per_page(image, plan.base_width, plan.base_height)
        return image.copy_memory()


def _crop(image: pyvips.Image, step: Step) -> pyvips.Image:
    if step.crop == "none" or (image.width, step.height) == (step.width, image.get_page_height()):
        return image
    if step.crop == "attention":
        return image.smartcrop(step.width, step.height, interesting="attention")
    left = (image.width - step.width) // 2
    top = (image.get_page_height() - step.height) // 2
    frames = [f.crop(left, top, step.width, step.height) for f in colour.pages(image)]
    return colour.join_pages(frames, image)


def _finish(scaled: pyvips.Image, step: Step, background: Rgb, credits: Credits) -> Rendered:
    image = _crop(scaled, step)
    if step.rendition.watermark is not None:
        frames = [stamp(f, step.rendition.watermark) for f in colour.pages(image)]
        image = colour.join_pages(frames, image)
    data = encode.encode(image, step, background, credits)
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


def render(base: pyvips.Image, plan: Plan, background: Rgb, credits: Credits = ()) -> tuple[Rendered, ...]:
    """Every step, largest first, each scaled from the previous un-watermarked intermediate.

    ``credits`` (the source's Copyright/Artist) reach only ``keep: icc+copyright`` outputs."""
    first = colour.pages(base)[0]
    still = first.copy_memory() if first is not base else base
    current = {True: base, False: still}
    done: dict[int, Rendered] = {}
    order = sorted(range(len(plan.steps)), key=lambda i: -plan.steps[i].resize_width * plan.steps[i].resize_height)
    for index in order:
        step = plan.steps[index]
        source = current[step.animated]
        scaled = colour.per_page(source, step.resize_width, step.resize_height)
        if scaled is not source:
            scaled = scaled.copy_memory()
        current[step.animated] = scaled
        done[index] = _finish(scaled, step, background, credits)
    return tuple(done[i] for i in range(len(plan.steps)))


def blurhash_of(base: pyvips.Image) -> str | None:
    """BlurHash (4x3) of a 32 px thumbnail of the first frame."""
    import blurhash

    image = colour.pages(base)[0]
    scale = 32 / max(image.width, image.height)
    small = colour.resize_to(image, max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = encode.flatten(small, (255, 255, 255))
    if small.bands == 1:
        small = small.colourspace("srgb")
    small = small[:3]
    raw = small.write_to_memory()
    w, h = small.width, small.height
    rows = [[list(raw[(y * w + x) * 3 : (y * w + x) * 3 + 3]) for x in range(w)] for y in range(h)]
    return str(blurhash.encode(rows, components_x=4, components_y=3))
