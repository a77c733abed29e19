"""The expected outcome of every photos/ and edge/ file of the corpus: one table, shared by the
processing tests and the pipeline tests (``from processing.corpus_expected import EXPECTED``)."""

from __future__ import annotations

PROCESS = "process"

#: corpus path -> "process" or the error code it must fail with
EXPECTED: dict[str, str] = {
    "photos/Kleiber_by_Lukas_Baubkus.jpg": PROCESS,
    "photos/Dragonfly_by_Bolly.jpg": PROCESS,
    "photos/Wine_by_Jakkub_Mede.jpg": PROCESS,
    "photos/friends_by_Aitzol_Berasategi.jpg": PROCESS,
    "photos/ColorfulCups_2560x1600.jpg": PROCESS,
    "photos/FallenLeaf_2560x1600.jpg": PROCESS,
    "photos/Grey_2560x1600.jpg": PROCESS,
    "photos/astronaut.png": PROCESS,
    "photos/coffee.png": PROCESS,
    **{f"edge/orientation/{kind}_{n}.jpg": PROCESS for kind in ("Landscape", "Portrait") for n in range(9)},
    "edge/orientation/hopper_orientation_6.webp": PROCESS,
    "edge/orientation/xmp_tags_orientation_exiftool.png": PROCESS,
    "edge/orientation/rot1mir0.avif": PROCESS,
    "edge/orientation/rotation_6.jpg": PROCESS,
    "edge/jpeg/hopper.jpg": PROCESS,
    "edge/jpeg/truncated_jpeg.jpg": "corrupt_image",
    "edge/jpeg/truncated.jpg": "corrupt_image",
    "edge/jpeg/pil_sample_cmyk.jpg": PROCESS,
    "edge/jpeg/pil_sample_rgb.jpg": PROCESS,
    "edge/jpeg/hopper_gray.jpg": PROCESS,
    "edge/jpeg/sample-xyb.jpg": PROCESS,
    "edge/jpeg/junk_jpeg_header.jpg": PROCESS,  # junk between header segments is skipped
    "edge/jpeg/sugarshack.mpo": PROCESS,  # JPEG magic: the first picture, never an animation
    "edge/jpeg/ultrahdr.jpg": "corrupt_image",
    "edge/exif/exif_gps.jpg": PROCESS,
    "edge/exif/empty_gps_ifd.jpg": PROCESS,
    "edge/exif/invalid-exif.jpg": PROCESS,
    # its EXIF is not the only damage: 1214 junk bytes before a restart marker, which libjpeg skips
    # with a warning (and paints what it decodes, as Pillow does). Processed, as the manifest asks:
    # only a truncated scan fails a JPEG
    "edge/exif/hopper_bad_exif.jpg": PROCESS,
    "edge/png/p_trns_single.png": PROCESS,
    "edge/png/tRNS_null_1x1.png": PROCESS,
    "edge/png/i_trns.png": PROCESS,
    "edge/png/uncompressed_la.png": PROCESS,
    "edge/png/transparent.png": PROCESS,
    "edge/png/icc_profile.png": PROCESS,
    # a zTXt chunk that inflates past 1 MiB: refused before any decoder (as the manifest asks)
    "edge/png/png_decompression_dos.png": "too_large_decoded",
    "edge/png/truncated_image.png": "corrupt_image",
    "edge/png/broken.png": "corrupt_image",
    "edge/png/apng_dispose_op_none.png": PROCESS,  # the default image (libvips reads no APNG frames)
    "edge/png/apng_mode_16bit.png": PROCESS,
    "edge/png/apng_syntax_num_frames_zero.png": "corrupt_image",
    "edge/gif/dispose_bgnd.gif": PROCESS,
    "edge/gif/chi.gif": PROCESS,
    "edge/gif/transparent.gif": PROCESS,
    "edge/gif/decompression_bomb.gif": "too_many_pixels",
    "edge/gif/decompression_bomb_extents.gif": "too_many_pixels",
    "edge/gif/zero_width.gif": "corrupt_image",
    "edge/gif/truncated.gif": "corrupt_image",
    "edge/webp/hopper.webp": PROCESS,
    "edge/webp/transparent.webp": PROCESS,
    "edge/webp/big-height.webp": PROCESS,
    "edge/webp/looks-like-svg.webp": PROCESS,
    "edge/webp/flower2.webp": PROCESS,
    "edge/heif-avif/hopper.avif": PROCESS,
    "edge/heif-avif/star.avifs": PROCESS,  # the primary image
    "edge/heif-avif/hopper.heif": PROCESS,  # HEVC through pillow-heif
    "edge/heif-avif/17000x17000.avif": "too_many_pixels",
    "edge/tiff/hopper.tif": PROCESS,
    "edge/tiff/multipage.tiff": PROCESS,  # first page
    "edge/tiff/16bit.cropped.tif": PROCESS,
    "edge/tiff/crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif": "corrupt_image",
    "edge/tiff/oom-225817ca0f8c663be7ab4b9e717b02c661e66834.tif": "corrupt_image",
    "edge/tiff/timeout-6646305047838720": "corrupt_image",
    "edge/bmp/hopper.bmp": "unsupported_type",
    "edge/bmp/reallybig.bmp": "unsupported_type",
    "edge/bmp/shortfile.bmp": "unsupported_type",
    "edge/other/zero_bb.eps": "unsupported_type",
    "edge/other/logo.svg": "unsupported_type",
    "edge/other/fli_overrun.bin": "unsupported_type",
    "edge/other/pcx_overrun.bin": "unsupported_type",
}
