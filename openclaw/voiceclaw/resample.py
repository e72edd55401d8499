"""24 kHz -> 16 kHz PCM16 mono resampling for the Gemini Live input (voiceclaw spec §2.3).

VoiceClaw streams 24 kHz audio; Gemini Live wants 16 kHz. Upstream resamples by linear
interpolation: ``floor(n * 2 / 3)`` output samples, output sample ``i`` read at source position
``1.5 * i``, rounded half up (JavaScript ``Math.round``) and clamped to int16. With a 3:2 ratio
the interpolation weights are only 0 and 1/2, so every three input samples ``a, b, c`` give
``a`` and ``round_half_up((b + c) / 2)``: exact integer arithmetic that never leaves the int16
range (so the clamp is implicit), and slicing keeps it fast enough in pure Python (no numpy;
``audioop`` is gone in Python 3.13).

There is no anti-alias filter, as upstream: content above 8 kHz folds back, which speech at
24 kHz barely has.
"""

from __future__ import annotations

import base64
import sys
from array import array

INPUT_RATE = 24000
OUTPUT_RATE = 16000


def output_samples(input_samples: int) -> int:
    """How many 16 kHz samples ``input_samples`` 24 kHz samples become."""
    return input_samples * OUTPUT_RATE // INPUT_RATE


def resample_24k_to_16k(pcm: bytes) -> bytes:
    """Resample little-endian PCM16 mono from 24 kHz to 16 kHz (a trailing odd byte is ignored)."""
    source = array("h")
    source.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        source.byteswap()
    count = output_samples(len(source))
    # Output 2k reads source 3k exactly; output 2k+1 reads halfway between 3k+1 and 3k+2 (both
    # always exist for the outputs kept, so upstream's "repeat the last sample" never applies).
    out = array("h", bytes(2 * count))
    out[0::2] = source[0::3][: (count + 1) // 2]
    halves = [(b + c + 1) >> 1 for b, c in zip(source[1::3], source[2::3], strict=False)]
    out[1::2] = array("h", halves[: count // 2])
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


def resample_base64_24k_to_16k(data: str) -> str:
    """The same on base64 text (a VoiceClaw ``audio.append``); ``ValueError`` on bad base64."""
    pcm = base64.b64decode(data, validate=True)
    return base64.b64encode(resample_24k_to_16k(pcm)).decode("ascii")
