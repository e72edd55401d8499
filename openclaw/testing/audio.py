"""PCM16 test signals and measurements: tones, silence, frames, loudness, pitch.

All audio here is 16-bit signed little-endian mono, the format of both VoiceClaw (24 kHz) and
Gemini Live (16 kHz in, 24 kHz out). Pure Python on ``array``: no numpy for a few seconds of
sound.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterator

BYTES_PER_SAMPLE = 2


def samples_of(pcm: bytes) -> array[int]:
    """The int16 samples of little-endian PCM16 bytes (a trailing odd byte is dropped)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def pcm_of(samples: array[int]) -> bytes:
    """Little-endian PCM16 bytes of int16 samples."""
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def bytes_for_ms(ms: float, rate: int) -> int:
    """PCM16 mono bytes in ``ms`` milliseconds at ``rate`` Hz (whole samples)."""
    return int(rate * ms / 1000) * BYTES_PER_SAMPLE


def sine_pcm16(frequency: float, ms: float, *, rate: int = 24000, amplitude: float = 0.3,
               phase_samples: int = 0) -> bytes:
    """A sine tone; ``amplitude`` is a fraction of full scale."""
    count = bytes_for_ms(ms, rate) // BYTES_PER_SAMPLE
    peak = amplitude * 32767
    step = 2 * math.pi * frequency / rate
    return pcm_of(array("h", (round(peak * math.sin(step * (n + phase_samples)))
                              for n in range(count))))


def silence_pcm16(ms: float, *, rate: int = 24000) -> bytes:
    return bytes(bytes_for_ms(ms, rate))


def frames(pcm: bytes, frame_bytes: int) -> Iterator[bytes]:
    """Consecutive frames of ``frame_bytes`` (the last one may be shorter)."""
    for start in range(0, len(pcm), frame_bytes):
        yield pcm[start:start + frame_bytes]


def rms(pcm: bytes) -> float:
    """Root-mean-square level in int16 units (0 for silence or no samples)."""
    samples = samples_of(pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def tone_power(pcm: bytes, frequency: float, *, rate: int) -> float:
    """Goertzel power of ``frequency`` in the signal, normalised by its length."""
    samples = samples_of(pcm)
    if not samples:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    power = previous * previous + before * before - coefficient * previous * before
    return power / len(samples)


def dominant_frequency(pcm: bytes, *, rate: int, low: float = 50.0, high: float | None = None,
                       step: float = 25.0) -> float:
    """The frequency of the strongest tone between ``low`` and ``high`` (default Nyquist)."""
    top = high if high is not None else rate / 2 - step
    candidates = [low + step * i for i in range(int((top - low) / step) + 1)]
    return max(candidates, key=lambda f: tone_power(pcm, f, rate=rate))
