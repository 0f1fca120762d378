"""A process that exits with a MediaPipe landmarker still open prints nothing (the CLI, the benchmarks): the
landmarker is closed by scoring.landmarks' exit hook before the interpreter shuts its executors down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from scoring.landmarks import StreamLandmarker
landmarker = StreamLandmarker(Path(sys.argv[1]) / "face_landmarker.task", video=True)
landmarker.begin_stream()
landmarker.detect(np.zeros((240, 320, 3), np.uint8), 0)
print("done")
"""


def test_an_open_landmarker_at_exit_is_closed_quietly(models_dir: Path) -> None:
    root = ROOT
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(models_dir)], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and run.stdout.strip() == "done", run.stderr[-2000:]
    assert "Exception ignored" not in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]
