"""`DataSpec`: what a clip is (frames, size, sampling, augmentation, test views, frame files, errors).

One frozen dataclass that `keras_gst.data.build_dataset(source, spec, ...)` takes whole, that
`keras_gst.training.Recipe.data` builds from a recipe, and whose `__post_init__` checks every field once,
raising `keras_gst.errors.ParameterError(field, message)` (the command line maps the field to its flag).
Standard library only, so a recipe or a flag is checked before TensorFlow is imported.
"""

import dataclasses

from keras_gst.checks import check_range, check_views
from keras_gst.errors import ParameterError

SAMPLING_MODES = ("segment", "dense")
MULTISCALE_SCALES = (1.0, 0.875, 0.75, 0.66)  # the authors' multi-scale crop, fractions of the short side
DEFAULT_TIMEOUT = 60.0  # seconds to decode one video


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """The clips of a dataset.

    Args:
        num_frames: T, frames per clip.
        crop_size: frame side the model sees (S: clips are (T, S, S, 3)).
        scale_size: short side the frames are resized to before cropping (>= `crop_size`; 256 for 224).
        sampling: "segment" (TSN: one frame from each of T segments) or "dense" (`frame_interval` apart).
        frame_interval: frames between dense samples.
        scales: training multi-scale crop sizes, fractions of `scale_size` in (0, 1].
        flip: training horizontal flip: "auto" (with the left/right class map derived from the class names;
            off where directional classes lack mirrors or names are unknown), True or False.
        flip_map: explicit {label: mirrored label} pairs (symmetric), or None.
        num_clips, num_crops: test views (crops 1, 3, 5 or 10), used when not training; V = clips x crops > 1
            adds a view axis.
        template, start_index: frame-folder file names, `template.format(start_index + i)`; "auto" picks per
            folder the first of `keras_gst.data.decode.FRAME_TEMPLATES` that exists.
        on_error: "raise" stops at an unreadable item naming the file; "skip" drops it, logs and counts it.
        decode_timeout: seconds allowed to decode one video.

    Example:

    ```python
    from keras_gst.data import DataSpec
    from keras_gst.errors import ParameterError

    spec = DataSpec(num_frames=8, crop_size=224, on_error="skip")  # build_dataset(records, spec, training=True)
    print(spec.scale_size, spec.sampling, spec.num_clips * spec.num_crops)  # 256 segment 1
    try:
        DataSpec(crop_size=224, scale_size=128)
    except ParameterError as error:
        print(error.param)  # scale_size
    ```
    """

    num_frames: int = 8
    crop_size: int = 224
    scale_size: int = 256
    sampling: str = "segment"
    frame_interval: int = 1
    scales: tuple = MULTISCALE_SCALES
    flip: object = "auto"
    flip_map: tuple | None = None
    num_clips: int = 1
    num_crops: int = 1
    template: str = "{:05d}.jpg"
    start_index: int = 1
    on_error: str = "raise"
    decode_timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self):
        """Check every field; a bad value raises `ParameterError` naming it."""
        for field in ("num_frames", "crop_size", "scale_size", "frame_interval", "num_clips", "start_index"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(field, f"must be an integer, got {value!r}")
        check_views(self.num_frames, num_clips=self.num_clips, num_crops=self.num_crops)
        check_range("crop_size", self.crop_size, 1)
        check_range("scale_size", self.scale_size, self.crop_size)
        check_range("frame_interval", self.frame_interval, 1)
        check_range("start_index", self.start_index, 0)
        if self.sampling not in SAMPLING_MODES:
            raise ParameterError("sampling", f"must be one of {SAMPLING_MODES}, got {self.sampling!r}")
        scales = tuple(self.scales)
        if not scales or not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in scales):
            raise ParameterError("scales", f"must be fractions in (0, 1], got {self.scales!r}")
        object.__setattr__(self, "scales", tuple(float(s) for s in scales))
        if not (self.flip is True or self.flip is False or self.flip == "auto"):
            raise ParameterError("flip", f"must be 'auto', True or False, got {self.flip!r}")
        if self.flip_map is not None:
            pairs = dict(self.flip_map)
            for a, b in pairs.items():
                if pairs.get(b) != a:
                    raise ParameterError("flip_map", f"must be symmetric: {a} -> {b} but {b} -> {pairs.get(b)}")
            object.__setattr__(self, "flip_map", tuple(sorted((int(a), int(b)) for a, b in pairs.items())))
        if not isinstance(self.template, str) or (self.template != "auto" and "{" not in self.template):
            raise ParameterError("template", f"must be 'auto' or a format string such as '{{:05d}}.jpg', "
                                             f"got {self.template!r}")
        if self.on_error not in ("raise", "skip"):
            raise ParameterError("on_error", f"must be 'raise' or 'skip', got {self.on_error!r}")
        if check_range("decode_timeout", self.decode_timeout) <= 0:
            raise ParameterError("decode_timeout", f"must be > 0 seconds, got {self.decode_timeout}")

    @property
    def num_views(self):
        """Test views per video, clips x crops."""
        return self.num_clips * self.num_crops

    def replace(self, **changes):
        """A copy with `changes` (checked again)."""
        return dataclasses.replace(self, **changes)
