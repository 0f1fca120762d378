"""The `livecheck eval` and `livecheck make-attacks` subcommands (hooked into webapp/cli.py's parser).

The service's configuration belongs to webapp; the CLI passes a `SettingsLoader` in, so this package never imports
webapp. Heavy imports happen inside the commands so `livecheck --help` stays fast."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from scoring.settings import EngineSettings

EXIT_OK, EXIT_ERROR = 0, 2

# A config file path (or None: the defaults and environment) -> the engine settings and the models directory.
# Raises ValueError with a message for the user when the configuration is invalid.
SettingsLoader = Callable[[str | None], tuple[EngineSettings, str | None]]


def cmd_make_attacks(args: argparse.Namespace) -> int:
    from evaluation.dataset import DatasetError
    from evaluation.definition import folder_definition, load_definition, materialise, resolve

    live_dir, out_dir = Path(args.live_dir), Path(args.out_dir)
    if not live_dir.is_dir():
        print(f"livecheck: {live_dir} is not a folder", file=sys.stderr)
        return EXIT_ERROR
    try:
        definition = (
            load_definition(resolve(args.definition))
            if args.definition
            else folder_definition(live_dir, args.seed or 0)
        )

        def progress(done: int, total: int) -> None:
            print(
                f"\rgenerating attacks {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True
            )

        csv_path = materialise(definition, live_dir, out_dir, args.seed, progress)
    except (DatasetError, ValueError, OSError) as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"wrote {len(definition.generated)} attack clips and {csv_path}")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, load_settings: SettingsLoader) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    from dataclasses import replace

    from evaluation.dataset import DatasetError, labels_path, load_labels
    from evaluation.report import ReportError, evaluate, markdown, pyplot, write_report
    from evaluation.runner import ProgressBar, run
    from models import ModelError
    from scoring.engine import LivenessEngine

    try:
        pyplot()  # a missing optional dependency fails now, not after the whole run
    except ReportError as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        items = load_labels(Path(args.dataset))
        configured, models_dir = load_settings(args.config)
        models_dir = args.models or models_dir
        settings = configured if args.threshold is None else replace(configured, liveness_threshold=args.threshold)
        workers = max(1, args.workers)
        engine = None if args.live else LivenessEngine.load(settings, models_dir, landmarkers=workers)
    except (DatasetError, ModelError, ValueError, OSError) as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if engine is None:
        from evaluation.live_runner import camera_items, run_live

        items, stills = camera_items(items)
        if stills:
            print(
                f"--live: {len(stills)} stills skipped (a still is not a camera feed): "
                + ", ".join(i.name for i in stills),
                file=sys.stderr,
            )
        try:
            results = run_live(items, models_dir, args.live_actions, ProgressBar(len(items)))
        except RuntimeError as exc:
            print(f"livecheck: {exc}", file=sys.stderr)
            return EXIT_ERROR
    else:
        try:
            results = run(engine, items, workers, ProgressBar(len(items)))
        finally:
            engine.close()
    evaluation = evaluate(results, settings.liveness_threshold)
    out_dir = Path(args.out) if args.out else labels_path(Path(args.dataset)).parent / "report"
    md, png = write_report(evaluation, out_dir)
    print(markdown(evaluation))
    print(f"report: {md}\nfigure: {png}")
    return EXIT_OK


def add_subcommands(sub: argparse._SubParsersAction[argparse.ArgumentParser], load_settings: SettingsLoader) -> None:
    evaluate = sub.add_parser("eval", help="measure APCER/BPCER/ACER on a labelled dataset folder (labels.csv)")
    evaluate.add_argument("dataset", metavar="DATASET", help="folder with labels.csv (or the CSV itself)")
    evaluate.add_argument("--threshold", type=float, help="liveness threshold (default: the configured one)")
    evaluate.add_argument("--workers", type=int, default=2, help="items analyzed in parallel (default 2)")
    evaluate.add_argument("--out", help="report folder (default: DATASET/report)")
    evaluate.add_argument("--models", help="models directory")
    evaluate.add_argument("--config", help="TOML config file")
    evaluate.add_argument(
        "--live",
        action="store_true",
        help="stream every video item through a real live session "
        "(a local server, the Python WebRTC client; loopback only): pictures and live clips passively, "
        "recordings (loop, splice, replay) against a random challenge",
    )
    evaluate.add_argument(
        "--live-actions", type=int, default=2, help="actions in the challenge recordings get (default 2)"
    )
    evaluate.set_defaults(func=partial(cmd_eval, load_settings=load_settings))

    attacks = sub.add_parser("make-attacks", help="generate labelled attack clips from live media")
    attacks.add_argument("live_dir", metavar="LIVE_DIR", help="folder of live videos and photos")
    attacks.add_argument("out_dir", metavar="OUT_DIR", help="where the clips and labels.csv go")
    attacks.add_argument("--seed", type=int, help="random seed (default: the definition's, else 0)")
    attacks.add_argument(
        "--definition",
        help="a dataset definition (bundled name such as 'shared', or a TOML path) "
        "instead of every attack on every file; its paths are relative to LIVE_DIR",
    )
    attacks.set_defaults(func=cmd_make_attacks)
