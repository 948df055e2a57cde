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
