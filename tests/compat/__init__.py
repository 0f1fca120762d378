"""Tests of the four drop-in APIs (FindFace, Huawei FRS, Facia, silent verification)."""
