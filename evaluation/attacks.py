"""Attack generators: presentation-attack clips built from live frames and clips, deterministic for a seed
(evaluation/clips.py reads and writes them; evaluation/catalogue.py names the kinds and builds datasets of them).

Each generator imitates what reaches the camera in one kind of attack, without knowing how the engine decides:
- print_photo: a printed live frame held by a hand (paper gamma and texture, rigid motion with small rotation and
  shake, a thumb on the edge, camera blur and noise);
- screen_replay: a live clip shown on a phone and filmed again (screen gamma and tint, moiré, bezel, glare,
  recapture blur, hand shake);
- still_injection: one live frame repeated, as a virtual camera injecting a photo would;
- replay_fast / replay_loop: a live recording injected played twice as fast, or its first second looped;
- splice: the first half of one person's clip followed by the second half of another person's;
- held_photo: a live frame (no print artefacts) held in a shaking hand: rigid in-plane motion;
- tilted_photo: a live frame on a sheet rotated back and forth in 3D in front of the camera (perspective warp);
- bent_photo: the sheet bent around a vertical axis by an amount that changes over time (cylindrical warp);
- still_noise: one live frame with fresh sensor noise in every frame and a slow exposure flicker;
- replay_tilted: a live clip shown on a screen that is moved in 3D (perspective warp of the screen);
Not yet attack types of a dataset (their calibration is under way): zoom_photo (a sheet moved toward and away from
the camera), live_background (one frame's face pasted over a live clip) and talking_photo (the cheapest deepfake:
one photo whose mouth and eyelids are warped as if speaking and blinking).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from evaluation.clips import STILL_FPS, STILL_SECONDS, Clip

# -- shared imaging -----------------------------------------------------------------------------------------


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A plain room wall: a soft gradient in a random muted colour with some blurred texture."""
    base = rng.uniform(90, 170, size=3)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    gradient = 1.0 + 0.25 * ((xs / w - 0.5) * rng.uniform(-1, 1) + (ys / h - 0.5) * rng.uniform(-1, 1))
    texture = cv2.GaussianBlur(rng.normal(0, 12, size=(h, w)).astype(np.float32), (0, 0), 6)
    img = base[None, None, :] * gradient[..., None] + texture[..., None]
    return np.clip(img, 0, 255).astype(np.float32)


def _shake(
    rng: np.random.Generator, n: int, fps: float, rotate_deg: float, shift_px: float
) -> list[tuple[float, float, float, float]]:
    """Per frame (angle, dx, dy, scale) of a hand holding something: slow sway plus smoothed tremor."""
    t = np.arange(n) / fps
    phase = rng.uniform(0, 2 * np.pi, size=4)
    freq = rng.uniform(0.3, 0.7, size=4)

    def tremor(amplitude: float) -> np.ndarray:
        walk: np.ndarray = np.cumsum(rng.normal(0, 1, size=n))
        walk = cv2.GaussianBlur(walk.reshape(1, -1).astype(np.float32), (0, 0), 2).ravel()
        walk -= walk.mean()
        return amplitude * walk / (np.abs(walk).max() + 1e-6)

    angle = rotate_deg * np.sin(2 * np.pi * freq[0] * t + phase[0]) + tremor(rotate_deg * 0.3)
    dx = shift_px * np.sin(2 * np.pi * freq[1] * t + phase[1]) + tremor(shift_px * 0.5)
    dy = shift_px * np.sin(2 * np.pi * freq[2] * t + phase[2]) + tremor(shift_px * 0.5)
    scale = 1.0 + 0.02 * np.sin(2 * np.pi * freq[3] * t + phase[3])
    return list(zip(angle.tolist(), dx.tolist(), dy.tolist(), scale.tolist()))


def _composite(
    scene: np.ndarray,
    layer: np.ndarray,
    mask: np.ndarray,
    pose: tuple[float, float, float, float],
    center: tuple[float, float],
    offset: tuple[float, float],
) -> np.ndarray:
    """Pastes `layer` (float RGB, alpha `mask`) into `scene` moved rigidly by `pose` about its centre."""
    angle, dx, dy, scale = pose
    h, w = scene.shape[:2]
    matrix = cv2.getRotationMatrix2D(center, angle, scale)
    matrix[:, 2] += (offset[0] + dx, offset[1] + dy)  # type: ignore[arg-type]  # cv2 stubs type it as integer
    warped = cv2.warpAffine(layer, matrix, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, matrix, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return scene * (1 - alpha) + warped * alpha


def _camera(rng: np.random.Generator, img: np.ndarray, blur: float, noise: float) -> np.ndarray:
    """What a phone camera adds when it films the attack: defocus and sensor noise."""
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + rng.normal(0, noise, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


# -- the attacks --------------------------------------------------------------------------------------------


def print_photo(
    frame: np.ndarray, rng: np.random.Generator, seconds: float = STILL_SECONDS, fps: float = STILL_FPS
) -> Clip:
    h, w = frame.shape[:2]
    paper = frame.astype(np.float32) / 255.0
    paper = paper ** rng.uniform(0.75, 0.9)  # ink on paper: lifted shadows ...
    paper = 0.07 + 0.83 * paper  # ... and no true black or white
    paper *= np.array([1.0, rng.uniform(0.95, 0.99), rng.uniform(0.86, 0.93)], dtype=np.float32)  # warm paper
    fibres = cv2.GaussianBlur(rng.normal(0, 1, size=(h, w)).astype(np.float32), (0, 0), 1.2) * 0.03
    blotches = cv2.GaussianBlur(rng.normal(0, 1, size=(h, w)).astype(np.float32), (0, 0), 15) * 0.25
    paper = paper * (1 + fibres + blotches)[..., None]
    paper = np.clip(paper * 255, 0, 255)
    # A white margin and a thumb over the lower-left corner.
    margin = max(4, w // 40)
    sheet = np.full((h + 2 * margin, w + 2 * margin, 3), 235.0, dtype=np.float32)
    sheet[margin : margin + h, margin : margin + w] = paper
    mask = np.ones(sheet.shape[:2], dtype=np.float32)
    skin = np.array([rng.uniform(170, 225), rng.uniform(120, 165), rng.uniform(95, 135)], dtype=np.float32)
    thumb_c = (int(sheet.shape[1] * 0.12), int(sheet.shape[0] * 0.97))
    thumb_axes = (max(8, w // 14), max(12, h // 8))
    layer_h, layer_w = sheet.shape[:2]
    # The thumb extends past the sheet: draw it on a bigger canvas so it is not clipped.
    pad = thumb_axes[1]
    layer = np.zeros((layer_h + pad, layer_w, 3), dtype=np.float32)
    layer[:layer_h] = sheet
    alpha = np.zeros(layer.shape[:2], dtype=np.float32)
    alpha[:layer_h] = mask
    cv2.ellipse(layer, thumb_c, thumb_axes, -20, 0, 360, skin.tolist(), -1)
    cv2.ellipse(alpha, thumb_c, thumb_axes, -20, 0, 360, 1.0, -1)
    # The sheet covers ~85 % of the view, centred.
    fit = 0.85 * min(w / layer_w, h / layer.shape[0] * 1.1)
    layer = cv2.resize(layer, (int(layer_w * fit), int(layer.shape[0] * fit)))
    alpha = cv2.resize(alpha, (layer.shape[1], layer.shape[0]))
    offset = ((w - layer.shape[1]) / 2, (h - layer_h * fit) / 2)
    center = (layer.shape[1] / 2, layer_h * fit / 2)
    background = _background(rng, w, h)
    n = int(round(seconds * fps))
    poses = _shake(rng, n, fps, rotate_deg=rng.uniform(1.5, 3.5), shift_px=w * 0.012)
    frames = [_camera(rng, _composite(background, layer, alpha, pose, center, offset), 0.8, 2.5) for pose in poses]
    return Clip(frames, fps)


def _moire(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Beat of the screen's pixel grid against the camera's: two fine gratings at a small angle."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(2.6, 3.4)
    a1, a2 = np.deg2rad(rng.uniform(-8, 8)), np.deg2rad(rng.uniform(-8, 8) + 3)
    g1 = np.cos(2 * np.pi * (xs * np.cos(a1) + ys * np.sin(a1)) / period)
    g2 = np.cos(2 * np.pi * (xs * np.cos(a2) + ys * np.sin(a2)) / (period * rng.uniform(1.03, 1.08)))
    return (g1 * g2).astype(np.float32)


def _screen_layers(clip: Clip, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """The phone showing each frame of `clip` (screen gamma, tint, moire, drifting glare, black bezel), and its
    alpha mask; layers are (h*0.78 + bezel) x (w*0.78 + bezel) float RGB."""
    w, h = clip.size
    screen_w = int(w * 0.78) // 2 * 2
    screen_h = int(h * 0.78) // 2 * 2
    bezel = max(6, w // 28)
    layer_w, layer_h = screen_w + 2 * bezel, screen_h + 2 * bezel
    moire = _moire(rng, screen_w, screen_h)
    moire_strength = rng.uniform(0.06, 0.1)
    gamma = rng.uniform(0.75, 0.85)  # screens shown to a camera look brighter and flatter in the mids
    tint = np.array([rng.uniform(0.9, 0.96), 1.0, rng.uniform(1.04, 1.1)], dtype=np.float32)  # cold backlight
    alpha = np.ones((layer_h, layer_w), dtype=np.float32)
    ys, xs = np.mgrid[0:screen_h, 0:screen_w].astype(np.float32)
    gx, gy = rng.uniform(0.2, 0.8) * screen_w, rng.uniform(0.1, 0.5) * screen_h
    glare_sigma = rng.uniform(0.15, 0.3) * screen_w
    layers = []
    for i, rgb in enumerate(clip.frames):
        shown = cv2.resize(rgb, (screen_w, screen_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        shown = np.clip(shown**gamma * tint, 0, 1) * (1 - moire_strength * moire)[..., None]
        drift = 0.03 * screen_w * math.sin(i / clip.fps)
        glare = np.exp(-(((xs - gx - drift) ** 2 + (ys - gy) ** 2) / (2 * glare_sigma**2)))
        shown = np.clip(shown + 0.3 * glare[..., None], 0, 1) * 255
        layer = np.full((layer_h, layer_w, 3), 18.0, dtype=np.float32)  # black phone bezel
        layer[bezel : bezel + screen_h, bezel : bezel + screen_w] = shown
        layers.append(layer)
    return layers, alpha


def screen_replay(clip: Clip, rng: np.random.Generator) -> Clip:
    w, h = clip.size
    layers, alpha = _screen_layers(clip, rng)
    layer_h, layer_w = alpha.shape
    background = _background(rng, w, h)
    poses = _shake(rng, len(clip.frames), clip.fps, rotate_deg=rng.uniform(0.8, 2.0), shift_px=w * 0.008)
    offset = ((w - layer_w) / 2, (h - layer_h) / 2)
    center = (layer_w / 2, layer_h / 2)
    frames = [
        _camera(rng, _composite(background, layer, alpha, pose, center, offset), 1.1, 2.0)
        for layer, pose in zip(layers, poses)
    ]
    return Clip(frames, clip.fps)


# -- flat pictures moved in 3D ------------------------------------------------------------------------------

FOCAL_OF_WIDTH = 0.8  # a webcam's focal length in units of the image width (about 64 degrees across)


def _tilt_angles(rng: np.random.Generator, n: int, fps: float, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Per frame (yaw, pitch, roll) in degrees: a sheet turned back and forth by hand, each axis its own rhythm."""
    t = np.arange(n) / fps
    freq = rng.uniform(0.35, 0.7, size=3)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    yaw = yaw_deg * np.sin(2 * np.pi * freq[0] * t + phase[0])
    pitch = pitch_deg * np.sin(2 * np.pi * freq[1] * t + phase[1])
    roll = 3.0 * np.sin(2 * np.pi * freq[2] * t + phase[2])
    return np.stack([yaw, pitch, roll], axis=1)


def _rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _perspective(
    scene: np.ndarray,
    layer: np.ndarray,
    alpha: np.ndarray,
    angles: tuple[float, float, float],
    fill: float,
    shift: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Pastes `layer` as a flat rectangle rotated by `angles` (yaw, pitch, roll) about its centre, at the distance
    where it spans `fill` of the frame's width head-on, seen by a pinhole camera (FOCAL_OF_WIDTH)."""
    h, w = scene.shape[:2]
    lh, lw = alpha.shape
    focal = FOCAL_OF_WIDTH * w
    distance = focal * lw / (fill * w)
    corners = np.array([[0, 0], [lw, 0], [lw, lh], [0, lh]], dtype=np.float64)
    local = np.c_[corners - (lw / 2, lh / 2), np.zeros(4)] @ _rotation(*angles).T
    z = local[:, 2] + distance
    projected = np.c_[focal * local[:, 0] / z + w / 2 + shift[0], focal * local[:, 1] / z + h / 2 + shift[1]]
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32))
    warped = cv2.warpPerspective(layer, matrix, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return scene * (1 - mask) + warped * mask


def _bent(
    scene: np.ndarray, layer: np.ndarray, alpha: np.ndarray, bend_deg: float, yaw_deg: float, fill: float
) -> np.ndarray:
    """Pastes `layer` as a sheet bent around its vertical centre line: the arc it spans is `bend_deg` (> 0 edges
    away from the camera, < 0 towards it), and the whole sheet is turned by `yaw_deg`. Inverse-mapped per column:
    a column's depth depends only on where it lies along the arc."""
    h, w = scene.shape[:2]
    lh, lw = alpha.shape
    focal = FOCAL_OF_WIDTH * w
    distance = focal * lw / (fill * w)
    arc = np.linspace(-lw / 2, lw / 2, 2048)
    if abs(bend_deg) < 1e-3:
        x3, z3 = arc, np.zeros_like(arc)
    else:
        radius = lw / np.deg2rad(abs(bend_deg))
        x3 = radius * np.sin(arc / radius)
        z3 = np.sign(bend_deg) * radius * (1 - np.cos(arc / radius))
    yaw = np.deg2rad(yaw_deg)
    xr, zr = x3 * np.cos(yaw) + z3 * np.sin(yaw), -x3 * np.sin(yaw) + z3 * np.cos(yaw) + distance
    column = focal * xr / zr + w / 2
    order = np.argsort(column)
    xs = np.arange(w, dtype=np.float64)
    u = np.interp(xs, column[order], arc[order], left=np.nan, right=np.nan)
    depth = np.interp(xs, column[order], zr[order])
    ys = np.arange(h, dtype=np.float64)[:, None]
    map_x = np.broadcast_to(u + lw / 2, (h, w)).astype(np.float32)
    map_y = ((ys - h / 2) * depth[None, :] / focal + lh / 2).astype(np.float32)
    map_x = np.where(np.isnan(map_x), -1, map_x).astype(np.float32)
    warped = cv2.remap(layer, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.remap(alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
    return scene * (1 - mask) + warped * mask


def _sheet(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A live frame as an unprinted sheet with a thin white margin (a photo print or a paper held up)."""
    h, w = frame.shape[:2]
    margin = max(4, w // 40)
    sheet = np.full((h + 2 * margin, w + 2 * margin, 3), 235.0, dtype=np.float32)
    sheet[margin : margin + h, margin : margin + w] = frame
    return sheet, np.ones(sheet.shape[:2], dtype=np.float32)


def held_photo(
    frame: np.ndarray, rng: np.random.Generator, seconds: float = STILL_SECONDS, fps: float = STILL_FPS
) -> Clip:
    """The live frame itself (no paper look, so a frame model may take it for live) in a hand that sways and
    trembles in the image plane, close enough to the camera that the face fills it as a live one would."""
    h, w = frame.shape[:2]
    layer, alpha = _sheet(frame)
    fit = 1.05 * w / layer.shape[1]
    layer = cv2.resize(layer, None, fx=fit, fy=fit)
    alpha = cv2.resize(alpha, (layer.shape[1], layer.shape[0]))
    background = _background(rng, w, h)
    n = int(round(seconds * fps))
    poses = _shake(rng, n, fps, rotate_deg=rng.uniform(3.0, 6.0), shift_px=w * 0.03)
    offset = ((w - layer.shape[1]) / 2, (h - layer.shape[0]) / 2)
    center = (layer.shape[1] / 2, layer.shape[0] / 2)
    return Clip(
        [_camera(rng, _composite(background, layer, alpha, pose, center, offset), 0.6, 2.0) for pose in poses], fps
    )


def tilted_photo(frame: np.ndarray, rng: np.random.Generator, seconds: float = 4.0, fps: float = STILL_FPS) -> Clip:
    """The live frame on a sheet turned back and forth in 3D (up to ~20 degrees either way about the vertical
    axis, ~12 about the horizontal): the face's apparent pose changes as a real head's would, its shape flatly."""
    h, w = frame.shape[:2]
    layer, alpha = _sheet(frame)
    background = _background(rng, w, h)
    n = int(round(seconds * fps))
    angles = _tilt_angles(rng, n, fps, yaw_deg=rng.uniform(16, 22), pitch_deg=rng.uniform(8, 14))
    shake = _shake(rng, n, fps, rotate_deg=0.0, shift_px=w * 0.01)
    return Clip(
        [
            _camera(rng, _perspective(background, layer, alpha, tuple(a), 0.95, (dx, dy)), 0.6, 2.0)
            for a, (_, dx, dy, _) in zip(angles, shake)
        ],
        fps,
    )


def bent_photo(frame: np.ndarray, rng: np.random.Generator, seconds: float = 4.0, fps: float = STILL_FPS) -> Clip:
    """The live frame on a sheet bent and unbent around its vertical centre line (arc up to ~70 degrees, both
    ways) while turned a little: not a homography between frames, but still a surface without a nose."""
    h, w = frame.shape[:2]
    layer, alpha = _sheet(frame)
    background = _background(rng, w, h)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    bend_amp, freq, phase = rng.uniform(50, 75), rng.uniform(0.4, 0.7), rng.uniform(0, 2 * np.pi)
    bends = bend_amp * np.sin(2 * np.pi * freq * t + phase)
    yaws = _tilt_angles(rng, n, fps, yaw_deg=rng.uniform(6, 12), pitch_deg=0.0)[:, 0]
    return Clip([_camera(rng, _bent(background, layer, alpha, b, y, 0.95), 0.6, 2.0) for b, y in zip(bends, yaws)], fps)


def still_noise(
    frame: np.ndarray, rng: np.random.Generator, seconds: float = STILL_SECONDS, fps: float = STILL_FPS
) -> Clip:
    """One frame injected by a virtual camera that adds what a real sensor would: fresh noise in every frame
    (sigma 2-5) and a slow exposure flicker (+-2-4 %), so no two frames are the same."""
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    gain = 1 + rng.uniform(0.02, 0.04) * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t) + rng.normal(0, 0.004, size=n)
    sigma = rng.uniform(2.0, 5.0)
    base = frame.astype(np.float32)
    return Clip([_camera(rng, base * g, 0.0, sigma) for g in gain], fps)


def replay_tilted(clip: Clip, rng: np.random.Generator) -> Clip:
    """A live clip on a phone screen that is turned back and forth in 3D in front of the camera."""
    w, h = clip.size
    layers, alpha = _screen_layers(clip, rng)
    background = _background(rng, w, h)
    angles = _tilt_angles(rng, len(layers), clip.fps, yaw_deg=rng.uniform(12, 20), pitch_deg=rng.uniform(6, 12))
    return Clip(
        [
            _camera(rng, _perspective(background, layer, alpha, tuple(a), 0.9), 1.1, 2.0)
            for layer, a in zip(layers, angles)
        ],
        clip.fps,
    )


@dataclass(frozen=True)
class FaceSpot:
    """Where a face's parts are in a frame (pixels): what the attacks that move only part of a face need."""

    mouth: tuple[float, float]
    mouth_width: float
    eyes: tuple[tuple[float, float], tuple[float, float]]
    eye_width: float
    oval: np.ndarray | None = None  # (N, 2) face outline, clockwise; None: an ellipse from the other points

    @classmethod
    def guess(cls, frame: np.ndarray) -> FaceSpot:
        """A face filling the middle of a frame (a tight face crop), for frames no landmarker has seen."""
        h, w = frame.shape[:2]
        side = min(h, w) * 0.5
        cx, cy = w / 2, h / 2
        eyes = ((cx - side * 0.2, cy - side * 0.1), (cx + side * 0.2, cy - side * 0.1))
        return cls((cx, cy + side * 0.35), side * 0.35, eyes, side * 0.18)

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> FaceSpot:
        """From MediaPipe's 478 face-mesh points (pixels)."""
        from scoring import mesh  # evaluation may use scoring; the generators above need no models

        p = np.asarray(points, dtype=np.float64)[:, :2]
        left, right = p[list(mesh.MOUTH_CORNERS)]
        lips = p[list(mesh.LIPS_CENTRE)].mean(axis=0)
        le, re = p[list(mesh.LEFT_EYE)], p[list(mesh.RIGHT_EYE)]
        eye_width = float((np.linalg.norm(le[0] - le[1]) + np.linalg.norm(re[0] - re[1])) / 2)
        return cls(
            (float(lips[0]), float(lips[1])),
            float(np.linalg.norm(right - left)),
            ((float(le[:2].mean(axis=0)[0]), float(le[:2].mean(axis=0)[1])),
             (float(re[:2].mean(axis=0)[0]), float(re[:2].mean(axis=0)[1]))),
            eye_width,
            p[list(mesh.FACE_OVAL)],
        )  # fmt: skip

    def mask(self, shape: tuple[int, ...], feather: float = 0.06, grow: float = 0.0) -> np.ndarray:
        """Float 0..1 mask of the face region (its outline, or an ellipse), grown by `grow` face widths, edges
        feathered."""
        h, w = shape[:2]
        mask = np.zeros((h, w), dtype=np.float32)
        if self.oval is not None:
            cv2.fillPoly(mask, [np.round(self.oval).astype(np.int32)], 1.0)
            size = float(np.ptp(self.oval[:, 0]))
        else:
            (lx, ly), (rx, ry) = self.eyes
            cx, cy = (lx + rx) / 2, (ly + self.mouth[1]) / 2
            size = 2.2 * abs(rx - lx)
            cv2.ellipse(mask, (int(cx), int(cy)), (int(size / 2), int(size * 0.65)), 0, 0, 360, 1.0, -1)
        if grow > 0:
            radius = max(1, int(size * grow))
            disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
            mask = np.asarray(cv2.dilate(mask, disc), dtype=np.float32)
        sigma = max(1.0, size * feather)
        return cv2.GaussianBlur(mask, (0, 0), sigma)


def zoom_photo(frame: np.ndarray, rng: np.random.Generator, seconds: float = 4.0, fps: float = STILL_FPS) -> Clip:
    """The live frame on a sheet moved toward and away from the camera (its size changing by 20-35 % either way)
    with a little sway: a plane whose image grows and shrinks, no pose change for a 3D check to measure."""
    h, w = frame.shape[:2]
    layer, alpha = _sheet(frame)
    fit = 0.9 * w / layer.shape[1]
    layer = cv2.resize(layer, None, fx=fit, fy=fit)
    alpha = cv2.resize(alpha, (layer.shape[1], layer.shape[0]))
    background = _background(rng, w, h)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    amplitude, freq, phase = rng.uniform(0.2, 0.35), rng.uniform(0.3, 0.6), rng.uniform(0, 2 * np.pi)
    scales = 1.0 + amplitude * np.sin(2 * np.pi * freq * t + phase)
    sway = _shake(rng, n, fps, rotate_deg=rng.uniform(1.0, 3.0), shift_px=w * 0.015)
    offset = ((w - layer.shape[1]) / 2, (h - layer.shape[0]) / 2)
    center = (layer.shape[1] / 2, layer.shape[0] / 2)
    return Clip(
        [
            _camera(rng, _composite(background, layer, alpha, (a, dx, dy, float(s)), center, offset), 0.6, 2.0)
            for (a, dx, dy, _), s in zip(sway, scales)
        ],
        fps,
    )


def live_background(clip: Clip, rng: np.random.Generator, spot: FaceSpot | None = None) -> Clip:
    """A still face over a live scene: one frame's face (feathered outline) pasted over every frame of the live
    clip, as a virtual camera that composites a photo's face onto live video, or a cut-out held in front of a
    moving person. Hair, shoulders and background move as they did; the face itself does not. `spot` is where the
    face is in the middle frame; the pasted region is grown by a third of a face width so that the live face,
    moving around that spot, does not show past the picture's edge (it did on interviews with the outline alone)."""
    middle = clip.frames[len(clip.frames) // 2].astype(np.float32)
    spot = spot or FaceSpot.guess(clip.frames[len(clip.frames) // 2])
    mask = spot.mask(middle.shape, grow=0.33)[..., None]
    out = []
    for rgb in clip.frames:
        composed = rgb.astype(np.float32) * (1 - mask) + middle * mask
        out.append(_camera(rng, composed, 0.0, 1.5))
    return Clip(out, clip.fps)


def _speech_envelope(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    """0..1 mouth opening of someone speaking: syllables at 3-6 Hz with pauses."""
    t = np.arange(n) / fps
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(3.0, 6.0) * t + rng.uniform(0, 2 * np.pi)), 0, None)
    phrases = (np.sin(2 * np.pi * rng.uniform(0.2, 0.4) * t + rng.uniform(0, 2 * np.pi)) > -0.3).astype(np.float64)
    jitter = cv2.GaussianBlur(rng.uniform(0.5, 1.0, size=(1, n)).astype(np.float32), (0, 0), 1.5).ravel()
    return np.asarray(syllables * phrases * jitter, dtype=np.float64)


def talking_photo(
    frame: np.ndarray,
    rng: np.random.Generator,
    spot: FaceSpot | None = None,
    seconds: float = 4.0,
    fps: float = STILL_FPS,
) -> Clip:
    """The cheapest deepfake: one photo whose mouth is warped open and shut as if speaking and whose eyelids are
    pulled down for blinks (a smooth displacement field around the lips and eyes), with a slight sway. Nothing
    else of the face moves: no parallax, no skin or light change."""
    h, w = frame.shape[:2]
    spot = spot or FaceSpot.guess(frame)
    n = int(round(seconds * fps))
    opening = _speech_envelope(rng, n, fps) * spot.mouth_width * rng.uniform(0.25, 0.4)
    blinks = np.zeros(n)
    at = rng.uniform(0.3, 1.2)
    while at < seconds:
        i = int(at * fps)
        blinks[i : i + 4] = (0.6, 1.0, 1.0, 0.5)[: len(blinks[i : i + 4])]
        at += rng.uniform(1.5, 3.5)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = spot.mouth
    sx, sy = spot.mouth_width * 0.7, spot.mouth_width * 0.55
    # The jaw: below the lips' centre line, pixels are pulled down, most at the lower lip, fading to the chin.
    below = 1 / (1 + np.exp(np.clip(-(ys - my) / max(1.0, spot.mouth_width * 0.04), -50, 50)))
    jaw = np.exp(-(((xs - mx) / sx) ** 2) - ((ys - (my + sy * 0.4)) / sy) ** 2) * below
    lids = np.zeros((h, w), dtype=np.float32)
    for ex, ey in spot.eyes:
        r = spot.eye_width * 0.6
        above = 1 / (1 + np.exp(np.clip((ys - ey) / max(1.0, r * 0.15), -50, 50)))  # the upper lid comes down
        lids += np.exp(-(((xs - ex) / r) ** 2) - ((ys - ey) / (r * 0.7)) ** 2) * (0.4 + 0.6 * above)
    sway = _shake(rng, n, fps, rotate_deg=rng.uniform(0.5, 2.0), shift_px=w * 0.006)
    base = frame.astype(np.float32)
    out = []
    for i in range(n):
        dy = opening[i] * jaw + blinks[i] * spot.eye_width * 0.3 * lids
        warped = cv2.remap(base, xs, (ys - dy).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        angle, dx, ddy, _ = sway[i]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        matrix[:, 2] += (dx, ddy)  # type: ignore[arg-type]
        moved = cv2.warpAffine(warped, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
        out.append(_camera(rng, moved, 0.0, 1.5))
    return Clip(out, fps)


def still_injection(frame: np.ndarray, seconds: float = STILL_SECONDS, fps: float = STILL_FPS) -> Clip:
    return Clip([frame] * int(round(seconds * fps)), fps)


def replay_fast(clip: Clip, factor: int = 2) -> Clip:
    """The recording at `factor` times its speed, at the same frame rate (frames dropped)."""
    return Clip(clip.frames[::factor], clip.fps)


def replay_loop(clip: Clip, loop_s: float = 1.0, seconds: float = 3.5) -> Clip:
    """The first `loop_s` seconds played over and over for `seconds`."""
    part = clip.frames[: max(2, int(loop_s * clip.fps))]
    n = int(seconds * clip.fps)
    return Clip([part[i % len(part)] for i in range(n)], clip.fps)


def splice(first: Clip, second: Clip) -> Clip:
    """First half of `first`, then the second half of `second` resampled to the first's size and frame rate."""
    w, h = first.size
    head = first.frames[: len(first.frames) // 2]
    start = second.seconds / 2
    tail_n = int((second.seconds - start) * first.fps)
    tail = []
    for i in range(tail_n):
        j = min(len(second.frames) - 1, int((start + i / first.fps) * second.fps))
        frame = second.frames[j]
        tail.append(frame if frame.shape[:2] == (h, w) else cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA))
    return Clip(head + tail, first.fps)


Locate = Callable[[np.ndarray], "FaceSpot | None"]  # a frame -> where its face's parts are (None: not found)
