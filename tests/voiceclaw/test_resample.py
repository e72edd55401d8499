"""24 kHz -> 16 kHz resampling: upstream's exact arithmetic, lengths, bounds, pitch kept."""

from __future__ import annotations

import base64
import math
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from openclaw.testing.audio import dominant_frequency, rms, sine_pcm16
from openclaw.voiceclaw.resample import (
    output_samples,
    resample_24k_to_16k,
    resample_base64_24k_to_16k,
)

int16 = st.integers(min_value=-32768, max_value=32767)


def upstream_downsample(pcm: bytes) -> bytes:
    """A line-by-line transcription of upstream's ``downsample24to16`` (gemini-live.ts), floats
    and ``Math.round`` (half up) included."""
    input_samples = len(pcm) // 2
    output_count = math.floor(input_samples * 16000 / 24000)
    source = struct.unpack(f"<{input_samples}h", pcm[: input_samples * 2])
    out = []
    for i in range(output_count):
        position = i * (24000 / 16000)
        index = math.floor(position)
        fraction = position - index
        s0 = source[index]
        s1 = source[index + 1] if index + 1 < input_samples else s0
        sample = math.floor(s0 * (1 - fraction) + s1 * fraction + 0.5)
        out.append(max(-32768, min(32767, sample)))
    return struct.pack(f"<{len(out)}h", *out)


def pcm(samples: list[int]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


class ResampleTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None)
    @given(samples=st.lists(int16, max_size=600))
    def test_matches_upstream_length_and_bounds(self, samples: list[int]) -> None:
        out = resample_24k_to_16k(pcm(samples))
        self.assertEqual(len(out), 2 * (len(samples) * 2 // 3))
        self.assertEqual(len(out) // 2, output_samples(len(samples)))
        values = struct.unpack(f"<{len(out) // 2}h", out)
        if values:  # every output lies within the input's range (so within int16)
            self.assertGreaterEqual(min(values), min(samples))
            self.assertLessEqual(max(values), max(samples))
        self.assertEqual(out, upstream_downsample(pcm(samples)))

    @given(data=st.binary(max_size=301))
    def test_any_bytes_odd_tail_ignored(self, data: bytes) -> None:
        out = resample_24k_to_16k(data)
        self.assertEqual(len(out), 2 * ((len(data) // 2) * 2 // 3))

    def test_extremes_stay_in_range(self) -> None:
        out = resample_24k_to_16k(pcm([32767, 32767, 32767, -32768, -32768, -32768]))
        self.assertEqual(struct.unpack("<4h", out), (32767, 32767, -32768, -32768))

    def test_rounds_half_up_like_javascript(self) -> None:
        out = resample_24k_to_16k(pcm([0, -1, -2, 0, 1, 2]))
        # (-1 + -2) / 2 = -1.5 -> -1 (Math.round), (1 + 2) / 2 = 1.5 -> 2
        self.assertEqual(struct.unpack("<4h", out), (0, -1, 0, 2))

    def test_sine_keeps_its_frequency_and_level(self) -> None:
        for frequency in (300.0, 1000.0, 3000.0):
            source = sine_pcm16(frequency, 250, rate=24000, amplitude=0.5)
            out = resample_24k_to_16k(source)
            self.assertEqual(len(out), len(source) * 2 // 3)
            self.assertEqual(
                dominant_frequency(out, rate=16000, low=100, high=7900, step=100), frequency
            )
            self.assertLess(abs(rms(out) / rms(source) - 1.0), 0.05)

    def test_base64_round_trip(self) -> None:
        frame = sine_pcm16(440, 100)  # one VoiceClaw frame: 4800 bytes, 6400 base64 chars
        text = base64.b64encode(frame).decode()
        self.assertEqual(len(text), 6400)
        out = base64.b64decode(resample_base64_24k_to_16k(text))
        self.assertEqual(out, resample_24k_to_16k(frame))
        self.assertEqual(len(out), 3200)
        with self.assertRaises(ValueError):
            resample_base64_24k_to_16k("not base64!")
