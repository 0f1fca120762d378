"""`livecheck` command: analyze files offline, manage models, run the server, evaluate accuracy."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evaluation.commands import add_subcommands
from scoring.onnx_session import PROCESSES_ENV
from scoring.settings import EngineSettings, FaceSelector
from webapp.config import ConfigError, load_config

EXIT_ALIVE, EXIT_NOT_ALIVE, EXIT_ERROR = 0, 1, 2
EXIT_NO_MODELS = 3  # `models verify` found not one model file: a fresh machine (`make run` then downloads them)
EXIT_INTERRUPTED = 130


# Commands that stay as loud as the libraries are. `serve` filters instead (_native_lines_filtered): its own log and
# Hypercorn's are the operator's, MediaPipe's start-up chatter is not.
LOUD_COMMANDS = ("models",)
# What MediaPipe/TFLite print from C++ at INFO/WARNING level (glog lines, and the lines before absl is set up):
# hidden from `serve`'s output; ERROR/FATAL lines and everything else pass.
NATIVE_NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./+-]+:\d+\] .*"  # before InitGoogle: seconds since 1970
    rb"|WARNING: Logging before InitGoogle\(\) is written to STDERR"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)\r?$"
)


def _quiet_native_logs() -> None:
    # MediaPipe/TFLite print INFO lines to stderr from C++; keep the CLI's output readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextmanager
def _stderr_fd_replaced(target: int) -> Iterator[int]:
    """File descriptor 2 points at `target` (taken over: closed when the block ends) while the block runs, and
    yields a duplicate of the real stderr. Python's own stderr (our messages, tracebacks) keeps writing to the real
    one through another duplicate; a replaced one (pytest's capture) is left alone."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(target, 2)
    os.close(target)
    python_stderr = sys.stderr
    own = python_stderr is sys.__stderr__
    if own:
        sys.stderr = open(os.dup(saved), "w", encoding=python_stderr.encoding, errors="backslashreplace", buffering=1)
    try:
        yield saved
    finally:
        if own:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def _native_stderr_hidden() -> Iterator[None]:
    """MediaPipe and TFLite log from C++ straight to file descriptor 2 (absl logging before InitGoogle, which no
    environment variable reaches). While a command runs, fd 2 points at /dev/null. `--verbose` skips all this."""
    with _stderr_fd_replaced(os.open(os.devnull, os.O_WRONLY)):
        yield


def _forward_filtered(source: int, sink: int) -> None:
    """Copies lines from `source` to `sink` until EOF, dropping NATIVE_NOISE lines."""
    with os.fdopen(source, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not NATIVE_NOISE.match(line))
            if kept:
                os.write(sink, kept)
        if pending and not NATIVE_NOISE.match(pending):
            os.write(sink, pending)


@contextmanager
def _native_lines_filtered() -> Iterator[None]:
    """For a long-running server: file descriptor 2 (where C++ logs, and what server processes it starts inherit)
    goes through a pipe that a thread copies to the real stderr without MediaPipe's INFO/WARNING lines. `--verbose`
    skips this."""
    read_end, write_end = os.pipe()
    copier: threading.Thread | None = None
    sink = -1
    try:
        with _stderr_fd_replaced(write_end) as saved:
            sink = os.dup(saved)
            copier = threading.Thread(
                target=_forward_filtered, args=(read_end, sink), name="native-log-filter", daemon=True
            )
            copier.start()
            yield
    finally:
        # fd 2 is restored: the pipe's last write end in this process is closed, so the copier drains and stops.
        if copier is not None:
            copier.join(timeout=2)
        else:
            os.close(read_end)
        if sink >= 0:
            os.close(sink)


def cmd_models(args: argparse.Namespace) -> int:
    from models import MANIFEST, ModelError, ModelStore, resolve_models_dir
    from models.download import TerminalProgress, download_models, source_url
    from models.loader import has_no_models, install_models, sha256_of
    from models.manifest import DOWNLOADS

    if args.models_command == "sources":
        rows = [{"file": d.file, "url": source_url(d), "sha256": d.sha256} for d in DOWNLOADS]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['file']:45s} {row['sha256']}  {row['url']}")
        return 0
    target = resolve_models_dir(args.models)
    if args.models_command == "download":
        try:
            installed = download_models(target, progress=TerminalProgress, log=print)
        except ModelError as exc:
            print(f"livecheck: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except KeyboardInterrupt:
            print("\nlivecheck: download interrupted; no partial file was kept", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"downloaded {len(installed)} model files into {target}")
    if args.models_command == "install":
        try:
            installed = install_models(Path(args.source).expanduser(), target)
        except ModelError as exc:
            print(f"livecheck: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"installed {len(installed)} model files into {target}")
    if args.models_command == "verify" and has_no_models(target):
        print(
            f"livecheck: no model files in {target}. Run `livecheck models download` (needs internet) or "
            "`livecheck models install --from DIR`.",
            file=sys.stderr,
        )
        return EXIT_NO_MODELS
    try:
        store = ModelStore.open(target)
    except ModelError as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for item in MANIFEST:
        actual = sha256_of(store.directory / item.filename)
        how = next((f" ({v.how})" for v in item.variants if v.sha256 == actual), "")
        print(f"ok  {item.filename:45s} {actual[:16]}…  {item.licence}{how}")
    print(f"all {len(MANIFEST)} models verified in {store.directory}")
    return 0


def _format_verdict(result: dict[str, object]) -> str:
    lines = [f"alive: {result['alive']}", f"average liveness: {result['average_liveness']}"]
    reasons = result.get("reasons") or []
    lines.append(f"reasons: {', '.join(reasons) if reasons else '-'}")  # type: ignore[arg-type]
    best = result.get("best_face")
    if isinstance(best, dict):
        lines.append(
            f"best face: frame {best['frame_no']} at {best['timestamp_s']} s, bbox {best['bbox']}, "
            f"quality {best['quality']['score']}, liveness {best['liveness']}"
        )
    for action in result.get("actions") or []:  # type: ignore[attr-defined]
        span = f"{action['start_s']}-{action['end_s']} s" if action["passed"] else "not seen"
        lines.append(
            f"action {action['action']}: {'passed' if action['passed'] else 'FAILED'} "
            f"(confidence {action['confidence']}, {span})"
        )
    match = result.get("match")
    if isinstance(match, dict):
        lines.append(f"match: same_person={match['same_person']} score={match['score']} cosine={match['cosine']}")
    frames = result.get("frames")
    lines.append(f"frames: {frames}")
    lines.append("time (ms): " + ", ".join(f"{k} {v}" for k, v in (result.get("timings_ms") or {}).items()))  # type: ignore[attr-defined]
    return "\n".join(lines)


def cmd_analyze(args: argparse.Namespace) -> int:
    from models import ModelError
    from scoring.actions import parse_windows
    from scoring.engine import AnalysisOptions, LivenessEngine
    from scoring.errors import InputError
    from scoring.media import decode_image, preflight

    try:
        config = load_config(args.config)
        data = Path(args.file).read_bytes()
        reference = Path(args.reference).read_bytes() if args.reference else None
        preflight(data, config.engine.limits)  # bad input fails in milliseconds, before the models load
        if reference is not None:
            decode_image(reference, config.engine.limits)
        actions = tuple(a.strip() for a in args.actions.split(",") if a.strip()) if args.actions else ()
        options = AnalysisOptions(
            actions=actions,
            action_windows_ms=parse_windows(args.action_time),
            nod_threshold_deg=args.nod_threshold,
            reference=reference,
            mf_selector=args.mf_selector,
        )
        engine = LivenessEngine.load(config.engine, args.models or config.models_dir, landmarkers=1)
    except (OSError, ValueError, ConfigError, ModelError, InputError) as exc:
        code = getattr(exc, "code", None)
        if args.json and code:
            print(json.dumps({"error": {"code": code, "message": str(exc)}}))
        print(f"livecheck: {'[' + code + '] ' if code else ''}{exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        verdict = engine.analyze(data, options)
    except InputError as exc:
        if args.json:
            print(json.dumps({"error": {"code": exc.code, "message": exc.message}}))
        print(f"livecheck: [{exc.code}] {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        engine.close()
    result = verdict.to_dict()
    print(json.dumps(result, indent=2) if args.json else _format_verdict(result))
    return EXIT_ALIVE if verdict.alive else EXIT_NOT_ALIVE


def _engine_settings(config_path: str | None) -> tuple[EngineSettings, str | None]:
    """evaluation's view of the service configuration (it does not import webapp)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc
    return config.engine, config.models_dir


def cmd_serve(args: argparse.Namespace) -> int:
    _quiet_native_logs()
    from webapp.server import serve  # noqa: PLC0415 - the server pulls in Quart/aiortc only when asked for

    if args.processes > 1:  # the children inherit it: each sizes its frame workers to its share of the cores
        os.environ[PROCESSES_ENV] = str(args.processes)
    return serve(config_path=args.config, listen=args.listen, models_dir=args.models, processes=args.processes)


def build_parser() -> argparse.ArgumentParser:
    """Every command; all but LOUD_COMMANDS also take --verbose (the native log lines `main` otherwise hides)."""
    parser = argparse.ArgumentParser(prog="livecheck", description="Self-hosted face liveness checks.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_analyze(sub)
    _add_models(sub)
    _add_serve(sub)
    add_subcommands(sub, _engine_settings)  # eval, make-attacks
    for name, command in sub.choices.items():
        if name not in LOUD_COMMANDS:
            command.add_argument("--verbose", action="store_true", help="show the MediaPipe/TFLite native log lines")
    return parser


def _add_analyze(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`analyze`: one file offline, with the options the HTTP APIs take (actions, windows, reference)."""
    analyze = sub.add_parser("analyze", help="analyze a video or still and print the verdict")
    analyze.add_argument("file")
    analyze.add_argument("--actions", help="comma-separated, in order: turn_left,turn_right,nod,blink,open_mouth,smile")
    analyze.add_argument(
        "--action-time", help="one START-END window per action, ms from the start (Huawei action_time)"
    )
    analyze.add_argument("--nod-threshold", type=float, help="degrees, 1-90 (default 10)")
    analyze.add_argument("--reference", help="photo to match the best face against")
    analyze.add_argument("--mf-selector", choices=[s.value for s in FaceSelector])
    analyze.add_argument("--json", action="store_true", help="print the whole verdict as JSON")
    analyze.add_argument(
        "--models", help="models directory (default: $LIVECHECK_MODELS, then ~/.local/share/livecheck/models)"
    )
    analyze.add_argument("--config", help="TOML config file")
    analyze.set_defaults(func=cmd_analyze)


def _add_models(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`models verify|download|sources|install`: the model files, before any check can run."""
    models = sub.add_parser("models", help="verify, download or install the model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    verify = models_sub.add_parser("verify", help="check every model file against the manifest's sha256")
    verify.add_argument("--models")
    download = models_sub.add_parser(
        "download",
        help="fetch the models from their upstream sources (pinned by sha256) and verify them",
        description="Fetches each model from its upstream source, pinned by sha256; converts MiniFASNet from "
        "PyTorch to ONNX (no PyTorch needed). Proxies: http_proxy/https_proxy. Mirror: LIVECHECK_MODELS_MIRROR=URL "
        "fetches https://HOST/PATH as URL/HOST/PATH.",
    )
    download.add_argument(
        "--dir",
        "--models",
        dest="models",
        help="models directory (default: $LIVECHECK_MODELS, then ~/.local/share/livecheck/models)",
    )
    sources = models_sub.add_parser("sources", help="list every upstream download: file, URL, sha256")
    sources.add_argument("--json", action="store_true")
    install = models_sub.add_parser("install", help="copy model files from a directory and verify them")
    install.add_argument("--from", dest="source", required=True)
    install.add_argument("--models")
    models.set_defaults(func=cmd_models)


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`serve`: the HTTP service, in one process or several sharing the socket."""
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--config")
    serve.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:8000)")
    serve.add_argument("--models")
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the listening socket and the session store (default 1)",
    )
    serve.set_defaults(func=cmd_serve)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in LOUD_COMMANDS or args.verbose:
        return int(args.func(args))
    _quiet_native_logs()
    with _native_lines_filtered() if args.command == "serve" else _native_stderr_hidden():
        return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
