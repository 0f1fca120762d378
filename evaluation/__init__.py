"""Accuracy evaluation (ISO/IEC 30107-3 metrics) and attack generators."""
