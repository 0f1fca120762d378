"""Tests of evaluation/: ISO/IEC 30107-3 metrics and the leave-one-source-out calibration."""
