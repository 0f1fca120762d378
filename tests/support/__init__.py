"""Helpers the tests, e2e/ and bench/ share (imported as `tests.support.<module>` from the project root)."""
