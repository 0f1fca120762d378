"""MediaPipe face-mesh landmark indices, defined once (the 478-point mesh with irises that the landmarker returns).

Why a module of its own: the aligner, the photo check and the evidence tracker each read a few of these points,
and a number typed twice is a number that can silently disagree.
"""

from __future__ import annotations

NOSE_TIP = 1
NOSE_BRIDGE_LOW = 4
MOUTH_CORNERS = (61, 291)
LIPS_CENTRE = (13, 14)  # upper, lower inner lip
LEFT_EYE = (33, 133, 159, 145)  # outer and inner corner, upper and lower lid (MediaPipe's "left" eye)
RIGHT_EYE = (362, 263, 386, 374)
IRIS_CENTRES = (468, 473)
FOREHEAD = 10  # top of the face oval, above the brows
CHIN = 152  # bottom of the face oval
CHEEKS = (234, 454)  # the face oval's left and right extremes
# The outline of the face, clockwise from the top of the forehead.
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
# Skin regions the light challenge samples (scoring/light.py): each a few points whose centroid lies on skin,
# away from the eyes, brows, lips and the face's outline, facing different directions on a 3D face.
LIGHT_REGIONS: dict[str, tuple[int, ...]] = {
    "forehead": (151, 9, 108, 337),
    "left_cheek": (50, 101, 118, 205),
    "right_cheek": (280, 330, 347, 425),
    "nose": (4, 5, 195),
    "chin": (199, 175, 200),
}
# Which way the skin of the regions across the face at the nose's height faces on a frontal face: yaw degrees from
# the camera's axis, signed so that the head's yaw adds to them (docs/verdict.md "Head pose convention"). The light
# challenge expects more of the screen's light on skin that faces it (scoring/light.py `facing_contrast`).
LIGHT_REGION_FACING: dict[str, float] = {"left_cheek": -40.0, "nose": 0.0, "right_cheek": 40.0}
