"""Inference threads in one place: onnxruntime sessions get the same thread settings everywhere, and a process
knows its share of the machine's cores (`cpu_share`).

The layout (docs/deploy.md "Threads"): parallelism is across checks and requests, never inside one model call.
Every onnxruntime session runs on the calling thread (one intra-op thread, sequential, no spinning pool), OpenCV
runs its calls single-threaded, and the callers bound how many model calls run at once to this process's share
of the cores (realtime: the frame workers; REST: the worker pool). MediaPipe's task API (the C
bindings) sets no thread count: each FaceLandmarker graph has its own two executor threads, but only one worker
calls into an instance at a time, so the frame workers bound it too. Measured (issue 22): ten checks each on a
thread of its own made the landmark stage 8 -> 42 ms a frame on two cores: contention, not work.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a session is made: the CLI reads PROCESSES_ENV without loading onnxruntime
    import onnxruntime as ort

PROCESSES_ENV = "LIVECHECK_PROCESSES"  # set by `serve --processes N` for its children: they share the cores


def available_cores() -> int:
    """Cores this process may run on (its affinity mask: taskset, a container's cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def cpu_share(processes: int | None = None) -> int:
    """This process's share of the cores when `processes` server processes share the machine (default: from
    LIVECHECK_PROCESSES, else 1), at least 1: what sizes its inference threads."""
    if processes is None:
        try:
            processes = int(os.environ.get(PROCESSES_ENV, "1"))
        except ValueError:
            processes = 1
    return max(1, available_cores() // max(1, processes))


def limit_native_threads() -> None:
    """OpenCV calls (resize, warpAffine of a face crop) run on the calling thread: on a 2-core node its default
    pool of one thread per core only fights the other checks' workers over the same cores."""
    try:
        import cv2  # noqa: PLC0415 - only where OpenCV is installed (it is a dependency of scoring)

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


def create_session(model: str | bytes, threads: int) -> ort.InferenceSession:
    import onnxruntime as ort  # noqa: PLC0415 - see the TYPE_CHECKING import

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # With more than one intra-op thread its pool spins between calls, burning a core another check needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    limit_native_threads()
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
