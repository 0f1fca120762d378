"""Still uploads (JPEG, PNG, BMP, WebP): decoded within the pixel limit read from the header, a large JPEG at
reduced scale instead of refused."""

from __future__ import annotations

import cv2
import numpy as np

from scoring import errors
from scoring.errors import InputError
from scoring.formats import video_format
from scoring.image_header import ImageFormat, image_format, read_header
from scoring.settings import MediaLimits


def decode_image(data: bytes, limits: MediaLimits) -> np.ndarray:
    """RGB pixels of a JPEG/PNG/BMP/WebP still. Pixel limits are checked from the header before decoding."""
    if not data:
        raise InputError(errors.EMPTY_INPUT, "The image is empty (0 bytes).")
    if len(data) > limits.image_size:
        raise InputError(errors.INPUT_TOO_LARGE, f"Image is {len(data)} bytes; the limit is {limits.image_size}.")
    header = read_header(data)
    if header is None:
        if image_format(data) is not None:
            raise InputError(errors.CORRUPT_MEDIA, "The image header is truncated or corrupt: its size cannot be read.")
        if video_format(data) is not None:
            raise InputError(errors.EXPECTED_IMAGE, "Expected a still image but received a video.")
        raise InputError(errors.UNSUPPORTED_MEDIA, "The upload is not a JPEG, PNG, BMP or WebP image.")
    reduction = 1
    if header.width * header.height > limits.image_pixels:
        # Only a single-pass JPEG decodes at reduced scale in reduced memory (see ImageHeader.single_pass).
        reduced = jpeg_reduction(header.format, header.width, header.height, limits) if header.single_pass else None
        if reduced is None:
            raise InputError(
                errors.RESOLUTION_TOO_HIGH,
                f"Image is {header.width}x{header.height} pixels; the limit is {limits.image_pixels} pixels.",
            )
        reduction = reduced
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), JPEG_REDUCED_READS[reduction])
    if bgr is None:
        raise InputError(errors.CORRUPT_MEDIA, "The image is truncated or corrupt.")
    if bgr.shape[0] * bgr.shape[1] > limits.image_pixels:
        raise InputError(errors.RESOLUTION_TOO_HIGH, "Image has too many pixels.")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


JPEG_REDUCED_READS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def jpeg_reduction(kind: ImageFormat, width: int, height: int, limits: MediaLimits) -> int | None:
    """A valid phone photo can exceed the pixel limit (24-50 MP): a JPEG is then decoded at 1/2, 1/4 or 1/8 scale,
    the least that fits, by libjpeg's DCT scaling, which never allocates the full-size picture. Other formats (a
    PNG is decoded whole first) and JPEGs more than 8x over on each side stay refused. None: refuse."""
    if kind != ImageFormat.JPEG:
        return None
    for reduction in (2, 4, 8):
        if -(-width // reduction) * -(-height // reduction) <= limits.image_pixels:
            return reduction
    return None
