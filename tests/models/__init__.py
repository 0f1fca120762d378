"""Tests of models/: the manifest, loading and download."""
