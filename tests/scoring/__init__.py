"""Tests of scoring/: frame analysis, evidence, the score, stills and videos."""
