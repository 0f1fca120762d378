"""The test suite (a package, so that tests.support cannot be shadowed by an installed `tests`)."""
