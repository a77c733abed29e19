"""``bench.webp_options`` judges encoders by SSIM: 1 for identical pixels, lower as quality drops."""

from __future__ import annotations

import pyvips
from bench.webp_options import ssim


def test_ssim_is_one_for_lossless_and_falls_with_quality() -> None:
    image = pyvips.Image.xyz(96, 64).colourspace("b-w").cast("uchar").bandjoin([64, 128]).copy(interpretation="srgb")
    image = (image + pyvips.Image.gaussnoise(96, 64, sigma=30)).cast("uchar").copy_memory()
    lossless = bytes(image.webpsave_buffer(lossless=True))
    assert ssim(image, lossless) > 0.9999
    high, low = (ssim(image, bytes(image.webpsave_buffer(Q=q))) for q in (90, 10))
    assert 0.0 < low < high < 0.9999
