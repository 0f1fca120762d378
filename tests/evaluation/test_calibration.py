"""The evidence limits and the score are what the leave-one-source-out calibration fits (issue 18), and the
measures it fitted on are what the code measures today.

evaluation/datasets/calibration_measures.csv is `python -m evaluation.calibrate ../shared/media --keep DIR`'s
table (every live clip of SOURCES.tsv, the stills, every generated attack, the deepfakes). If the evidence code
changes what it measures, the last test fails: measure again and commit the new table and constants."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation import calibrate
from scoring.evidence import EvidenceLimits
from scoring.score import SCORE_MODEL
from tests.support.paths import ROOT

TABLE = ROOT / "evaluation" / "datasets" / "calibration_measures.csv"
PICTURES = ("print_photo", "held_photo", "tilted_photo", "bent_photo", "zoom_photo", "still_noise", "still_injection")
SCREENS = ("screen_replay", "replay_tilted")


@pytest.fixture(scope="module")
def rows() -> list[calibrate.Row]:
    return [calibrate.Row.parse(r) for r in calibrate.read_table(TABLE)]


@pytest.mark.unit
def test_the_table_covers_every_source_and_kind(rows) -> None:  # type: ignore[no-untyped-def]
    groups = {r.group for r in rows if r.live}
    assert len(groups) >= 8 and sum(r.live for r in rows) >= 33, groups
    kinds = {r.kind for r in rows}
    assert set(PICTURES) | set(SCREENS) | {"live_background", "talking_photo", "deepfake"} <= kinds


@pytest.mark.unit
def test_the_code_constants_are_the_fit(rows) -> None:  # type: ignore[no-untyped-def]
    fitted = calibrate.fit(rows)
    limits = EvidenceLimits()
    assert limits.flat_max == fitted.limits.flat_max
    assert limits.repeat_share == fitted.limits.repeat_share
    assert limits.expression_ceilings == fitted.limits.expression_ceilings
    for name in ("bias", "w_antispoof", "w_expression", "w_parallax", "parallax_ref"):
        assert getattr(SCORE_MODEL, name) == getattr(fitted.model, name), name


@pytest.mark.unit
def test_in_sample_every_live_clip_passes(rows) -> None:  # type: ignore[no-untyped-def]
    """The shipped fit on all its media: no real person refused; the pictures and screens it still accepts are
    named (docs/verdict.md "Calibration"), so that a change to them is seen."""
    fitted = calibrate.fit(rows)
    judged = [calibrate.judge(r, fitted) for r in rows]
    refused = [j.row.name for j in judged if j.row.live and not j.alive]
    accepted = sorted(j.row.name for j in judged if j.row.kind in (*PICTURES, *SCREENS, "live_background") and j.alive)
    assert not refused, refused
    assert accepted == IN_SAMPLE_ACCEPTED, accepted


@pytest.mark.unit
def test_held_out_sources(rows) -> None:  # type: ignore[no-untyped-def]
    """Each source judged by the fit on the others: the figures docs/verdict.md quotes."""
    held = [j for js in calibrate.loso(rows).values() for j in js]
    refused = sorted(j.row.name for j in held if j.row.live and not j.alive)
    accepted_pictures = sorted(j.row.name for j in held if j.row.kind in PICTURES and j.alive)
    assert refused == HELD_OUT_REFUSED, refused
    assert accepted_pictures == HELD_OUT_PICTURES_ACCEPTED, accepted_pictures


# The figures of the current fit (python -m evaluation.calibrate --table evaluation/datasets/calibration_measures.csv).
HELD_OUT_REFUSED: list[str] = []
HELD_OUT_PICTURES_ACCEPTED = [
    "bent_photo_dreamtalk_mead_W011_surprised",
    "bent_photo_pcavs_vox_00086",
    "bent_photo_pcavs_vox_pose796100172",
    "held_photo_pcavs_vox_00086",
    "tilted_photo_biden",
    "tilted_photo_obama",
    "zoom_photo_biden",
    "zoom_photo_pcavs_vox_00086",
]
IN_SAMPLE_ACCEPTED = [
    "bent_photo_dreamtalk_mead_W011_surprised",
    "held_photo_pcavs_vox_00086",
    "replay_tilted_d12",
    "replay_tilted_dreamtalk_mead_W009_surprised",
    "replay_tilted_dreamtalk_mead_W011_happy",
    "replay_tilted_dreamtalk_mead_W011_surprised",
    "replay_tilted_mt_yongen",
    "screen_replay_dreamtalk_mead_M030_happy",
    "screen_replay_dreamtalk_mead_W009_angry",
    "screen_replay_dreamtalk_mead_W011_surprised",
    "screen_replay_eamm_mead_disgusted",
    "tilted_photo_biden",
    "zoom_photo_biden",
]


# How far a channel may read from its row on another machine: with the same code and locked libraries,
# screen_replay_d19's jaw read 0.0600 on the machine that measured the table and 0.0702 on an AVX-512 AMD EPYC
# (2026-12-04; its other channels moved by <= 0.004), while mt_sun, tilted_photo_d12, d19 and
# held_photo_pcavs_vox_00086 read identically. Here the generated screen's bytes are the same run after run, so the
# cause is presumably the CPU-dispatched kernels of the decoders or models; a code change that moves a channel
# by more than this still fails.
CHANNEL_DRIFT = 0.02


def test_the_table_is_what_the_code_measures(engine, media: Path, rows, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A live clip, a generated picture and a generated screen, measured again now, give their table rows."""
    by_name = {r.name: r for r in rows}
    items = {i.name: i for i in calibrate.plan(media)}
    calibrate._engine = engine  # noqa: SLF001 - the worker's engine is the test's
    try:
        for name in ("mt_sun", "tilted_photo_d12", "screen_replay_d19"):
            again = calibrate.Row.parse(
                {k: str(v) for k, v in calibrate.measure_item(items[name], media, tmp_path).items()}
            )
            kept = by_name[name]
            assert again.antispoof == pytest.approx(kept.antispoof, abs=0.01), name
            assert (again.parallax is None) == (kept.parallax is None), name
            for channel, value in kept.channels.items():
                assert again.channels[channel] == pytest.approx(value, abs=CHANNEL_DRIFT), (name, channel)
    finally:
        calibrate._engine = None  # noqa: SLF001
