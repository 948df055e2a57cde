"""Fixtures for the data tests."""

import av
import pytest


@pytest.fixture
def make_truncated_mp4(real_data):
    """demo.mp4 remuxed with its index first (faststart), then cut to 40%: claims 280 frames."""

    def make(out):
        full = out.with_name(out.stem + "_full.mp4")
        with av.open(str(real_data / "videos" / "demo.mp4")) as src, \
                av.open(str(full), "w", options={"movflags": "faststart"}) as dst:
            stream = dst.add_stream_from_template(src.streams.video[0])
            for packet in src.demux(src.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    dst.mux(packet)
        data = full.read_bytes()
        full.unlink()
        out.write_bytes(data[: len(data) * 4 // 10])
        return out

    return make


@pytest.fixture
def corrupt_jpeg():
    """A real JPEG (cv2.imencode) damaged inside its image data, headers kept. how: "garbage" (the middle
    third of the entropy-coded data overwritten with seeded random bytes), "half" (cut in half: no EOI)."""
    import cv2
    import numpy as np

    def make(image, how="garbage", seed=0):
        data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        if how == "half":
            return data[: len(data) // 2]
        sos = data.index(b"\xff\xda")
        start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
        third = (len(data) - 2 - start) // 3
        garbage = np.random.default_rng(seed).integers(0, 256, third, dtype=np.uint8).tobytes()
        return data[:start + third] + garbage + data[start + 2 * third:]

    return make
