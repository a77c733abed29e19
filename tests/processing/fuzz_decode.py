"""atheris (libFuzzer) harness over the probe/decode entry point: ``process_image`` on any bytes
returns renditions or raises one of imgflow's named errors (:class:`imgflow.errors.ImgflowError`).
Anything else is a finding: another exception, a crash, a hang (``-timeout``) or a memory
blow-up (``-rss_limit_mb``); libFuzzer writes the input to ``-artifact_prefix``.

    python tests/processing/fuzz_decode.py CORPUS_DIR [libFuzzer flags]   # fuzz
    python tests/processing/fuzz_decode.py FILE...                         # replay inputs once

``make fuzz`` runs it for a long time with its findings written to
``tests/processing/fuzz_regressions/``, which ``test_processing_fuzz.py`` replays; the test suite
runs a short, fixed-iteration session from ``fuzz_seeds/``.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports(include=["imgflow"]):
    from imgflow.errors import ImgflowError
    from imgflow.processing import process_image
    from imgflow.recipes import Limits, Recipe, Rendition

#: small outputs and tight limits: many inputs per second, and the budget checks get exercised
RECIPE = Recipe(
    name="fuzz",
    renditions=(
        Rendition(name="still", width=48, height=48, format="jpeg"),
        Rendition(name="crop", width=24, height=24, fit="cover", format="png"),
        Rendition(name="same", width=32, height=32, format="same", animation="keep"),
    ),
)
LIMITS = Limits(max_bytes=256 * 1024, max_pixels=4_000_000, max_decoded_bytes=48_000_000, max_frames=64)


def one_input(data: bytes) -> None:
    with contextlib.suppress(ImgflowError):  # a refusal with a code and a message is the right answer
        process_image(data, RECIPE, LIMITS)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
