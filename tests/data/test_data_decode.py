"""Decoding the real videos and frame folders in tests/assets/real, and bad files made in tmp_path."""

import logging
import os

import av
import cv2
import numpy as np
import pytest

from keras_gst.data import decode as D

# file: (frames that decode with OpenCV, height, width), from SOURCE.md
REAL_VIDEOS = {
    "test.mp4": (300, 256, 340),
    "test.avi": (164, 240, 320),
    "demo.mp4": (280, 256, 340),
    "bottle-detection.mp4": (1189, 360, 640),
    "sthv2/13201.webm": (49, 240, 320),
}
REAL_FOLDERS = {  # folder: (template, frames, width)
    "gst_style/57082": ("{:05d}.jpg", 38, 427),
    "ssv2/2": ("{:04d}.jpg", 48, 427),
    "ssv2/13201": ("{:04d}.jpg", 49, 320),
    "ssv2/3201": ("{:04d}.jpg", 43, 426),
    "ssv2/862": ("{:04d}.jpg", 47, 427),
    "ssv2/151201": ("{:04d}.jpg", 33, 400),
    "imgs": ("img_{:05d}.jpg", 10, 320),
}


def sequential_frames(path, indices):
    cap = cv2.VideoCapture(str(path))
    wanted, out, i = set(indices), {}, 0
    while len(out) < len(wanted):
        ok, frame = cap.read()
        assert ok
        if i in wanted:
            out[i] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        i += 1
    return np.stack([out[j] for j in indices])


@pytest.mark.parametrize("name", sorted(REAL_VIDEOS))
def test_real_video_clip(real_data, name):
    path = real_data / "videos" / name
    frames_true, h, w = REAL_VIDEOS[name]
    indices = np.linspace(0, frames_true - 1, 8).astype(np.int64)
    clip, n = D.load_video_clip(path, lambda n: np.linspace(0, n - 1, 8).astype(np.int64))
    assert n == frames_true and clip.shape == (8, h, w, 3) and clip.dtype == np.uint8
    np.testing.assert_array_equal(clip, sequential_frames(path, indices))


def test_true_frame_counts(real_data):
    for name, (frames_true, _, _) in REAL_VIDEOS.items():
        assert D.count_video_frames(real_data / "videos" / name) == frames_true


def test_seek_across_long_gaps_gives_the_right_frames(real_data):
    path = real_data / "videos" / "bottle-detection.mp4"
    indices = [1100, 5, 600, 5, 1188]  # any order, repeats; gaps > SEEK_THRESHOLD use a seek
    clip = D.read_video_frames(path, indices)
    np.testing.assert_array_equal(clip, sequential_frames(path, indices))


def test_webm_frames_line_up_with_the_jpeg_folder(real_data):
    # 13201.webm was encoded from rawframes/ssv2/13201/0001..0049.jpg: video frame k == file k+1
    clip = D.read_video_frames(real_data / "videos" / "sthv2" / "13201.webm", [0, 24, 48])
    folder = real_data / "rawframes" / "ssv2" / "13201"
    jpegs = [cv2.cvtColor(cv2.imread(str(folder / f"{k + 1:04d}.jpg")), cv2.COLOR_BGR2RGB) for k in (0, 24, 48)]
    diff = lambda a, b: np.abs(a.astype(int) - b.astype(int)).mean()  # noqa: E731
    for i in range(3):
        assert diff(clip[i], jpegs[i]) < 6
    assert diff(clip[0], jpegs[2]) > 2 * diff(clip[0], jpegs[0])


@pytest.mark.parametrize("folder", sorted(REAL_FOLDERS))
def test_real_frame_folders(real_data, folder):
    template, count, width = REAL_FOLDERS[folder]
    path = str(real_data / "rawframes" / folder)
    assert D.detect_template(path) == template
    assert D.folder_frame_count(path, template) == count
    data = D.read_frame_bytes(D.frame_paths(path, [0, count - 1], template))
    image = cv2.imdecode(np.frombuffer(data[1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, width, 3)


# --- bad inputs: each error names the file ------------------------------------------------------


def test_missing_video(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"video not found: .*gone\.mp4"):
        D.load_video_clip(tmp_path / "gone.mp4", lambda n: np.arange(2))


def test_zero_byte_video(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(D.VideoDecodeError, match=r"empty \(0 bytes\): .*empty\.mp4"):
        D.load_video_clip(path, lambda n: np.arange(2))


def test_corrupt_video(tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(D.VideoDecodeError, match=r"corrupt\.mp4"):
        D.load_video_clip(path, lambda n: np.arange(2))
    with pytest.raises(D.VideoDecodeError, match=r"cannot decode video .*corrupt\.mp4"):
        D.read_video_frames(path, [0])


def test_truncated_video_is_resampled_and_named(make_truncated_mp4, tmp_path, caplog):
    path = make_truncated_mp4(tmp_path / "truncated.mp4")
    assert D.claimed_frame_count(path) == 280
    with pytest.raises(D.ShortVideoError, match=r"truncated\.mp4 ends after \d+ decodable frames"):
        D.read_video_frames(path, [279])
    with caplog.at_level(logging.WARNING):
        clip, n = D.load_video_clip(path, lambda n: np.array([0, n - 1]))
    assert 50 < n < 280 and clip.shape == (2, 256, 340, 3)
    assert f"{path}: expected 280 frames from frame 0, only {n} decode" in caplog.text
    np.testing.assert_array_equal(clip, sequential_frames(path, [0, n - 1]))


def test_av1_falls_back_to_pyav(tmp_path):
    path = tmp_path / "av1.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libsvtav1", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 20 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    clip, n = D.load_video_clip(path, lambda n: np.array([1, 8]))
    assert n == 10 and clip.shape == (2, 64, 64, 3)
    np.testing.assert_allclose(clip.reshape(2, -1).mean(axis=1), [20, 160], atol=4)
    assert D.count_video_frames(path) == 10


def test_decoding_is_time_bounded(real_data):
    # grabbing 1188 frames of 640x360 H.264 takes ~0.4 s: a 0.05 s budget must stop it with an error naming the file
    path = real_data / "videos" / "bottle-detection.mp4"
    with pytest.raises(D.DecodeTimeoutError, match=r"bottle-detection\.mp4 took longer than 0.05 s"):
        D.read_video_frames(path, [1188], timeout=0.05, seek_threshold=10**6)
    assert D.read_video_frames(path, [3]).shape == (1, 360, 640, 3)  # nothing remembered against the file


@pytest.mark.parametrize("content,message", [
    (b"", r"empty \(0 bytes\)"),
    (b"GIF89a....", "not a JPEG"),
    ("truncate", r"truncated \(no end marker\)"),
])
def test_bad_jpeg_frames_are_named(real_data, tmp_path, content, message):
    good = (real_data / "rawframes" / "gst_style" / "57082" / "00001.jpg").read_bytes()
    path = tmp_path / "00001.jpg"
    path.write_bytes(good[: len(good) // 2] if content == "truncate" else content)
    with pytest.raises(D.VideoDecodeError, match=f"{message}: .*{os.sep}00001.jpg"):
        D.read_frame_bytes([str(path)])
    with pytest.raises(FileNotFoundError, match=r"frame not found: .*00002\.jpg"):
        D.read_frame_bytes([str(tmp_path / "00002.jpg")])


def noise_image(seed=0, shape=(24, 32, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_corrupt_jpeg_mid_stream_is_named(tmp_path, corrupt_jpeg):
    import tensorflow as tf

    bad = corrupt_jpeg(noise_image())
    with pytest.raises(tf.errors.InvalidArgumentError):  # what used to stop the whole pipeline
        tf.io.decode_jpeg(bad, channels=3)
    path = tmp_path / "clip" / "00002.jpg"
    path.parent.mkdir()
    path.write_bytes(bad)
    cv2.imwrite(str(tmp_path / "clip" / "00001.jpg"), noise_image(1))
    for read in (D.read_frame_bytes, D.read_frames):
        with pytest.raises(D.VideoDecodeError) as info:
            read([str(tmp_path / "clip" / "00001.jpg"), str(path)])
        message = str(info.value)
        assert "frame JPEG is corrupt (marker 0x" in message and "inside the image data" in message
        assert f": {path}; re-extract the frames of {path.parent} (`keras-gst extract-frames`)" in message
    path.write_bytes(corrupt_jpeg(noise_image(), "half"))
    with pytest.raises(D.VideoDecodeError, match=r"truncated \(no end marker\): .*clip.00002\.jpg; re-extract"):
        D.read_frames([str(path)])


@pytest.mark.parametrize("seed", range(20))
def test_garbage_in_the_image_data_is_found(corrupt_jpeg, seed):
    bad = corrupt_jpeg(noise_image(seed, (48, 64, 3)), seed=seed)
    assert D.jpeg_damage(bad) is not None


@pytest.mark.parametrize("params", [
    [],
    [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
    [cv2.IMWRITE_JPEG_RST_INTERVAL, 2],
    [cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444],
    "grey",
    "pil-exif",
])
def test_well_formed_jpegs_pass_the_check(tmp_path, params):
    image = noise_image(3, (40, 56, 3))
    if params == "grey":
        data = cv2.imencode(".jpg", image[..., 0])[1].tobytes()
    elif params == "pil-exif":
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: ignored, as by tf.io.decode_jpeg
        Image.fromarray(image).save(tmp_path / "pil.jpg", exif=exif, comment=b"made by PIL")
        data = (tmp_path / "pil.jpg").read_bytes()
    else:
        data = cv2.imencode(".jpg", image, params)[1].tobytes()
    assert D.jpeg_damage(data) is None
    (tmp_path / "00001.jpg").write_bytes(data + b"\x00\x00")  # zero padding after EOI is accepted
    frames = D.read_frames([str(tmp_path / "00001.jpg")])
    assert frames.shape == (1, 40, 56, 3) and frames.dtype == np.uint8


def test_real_frames_decode_as_pil_and_tf(real_data):
    import tensorflow as tf
    from PIL import Image

    folder = real_data / "rawframes" / "imgs"
    paths = [str(folder / f"img_{i:05d}.jpg") for i in (1, 5, 10, 5)] + [str(folder / "x_00001.jpg")]
    frames = D.read_frames(paths)
    assert frames.shape == (5, 240, 320, 3) and frames.dtype == np.uint8
    for frame, path in zip(frames, paths):
        data = open(path, "rb").read()
        np.testing.assert_array_equal(frame, np.asarray(Image.open(path).convert("RGB")))
        np.testing.assert_array_equal(frame, tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"))
        fast = tf.io.decode_jpeg(data, channels=3).numpy()  # the old pipeline's decode (fast IDCT)
        assert np.abs(frame.astype(int) - fast).mean() < 1.5  # 0.3 to 1.2 grey levels on the real frames
    np.testing.assert_array_equal(frames[1], frames[3])  # a repeated frame
    for name, (template, count, width) in REAL_FOLDERS.items():
        path = str(real_data / "rawframes" / name)
        clip = D.read_frames(D.frame_paths(path, range(count), template))
        assert clip.shape == (count, 240, width, 3)


def test_frames_of_different_sizes(tmp_path):
    cv2.imwrite(str(tmp_path / "00001.jpg"), noise_image(0, (24, 32, 3)))
    cv2.imwrite(str(tmp_path / "00002.jpg"), noise_image(0, (32, 24, 3)))
    with pytest.raises(D.VideoDecodeError, match=r"frame is 24x32, .*00001\.jpg is 32x24: .*00002\.jpg"):
        D.read_frames(D.frame_paths(str(tmp_path), [0, 1]))
