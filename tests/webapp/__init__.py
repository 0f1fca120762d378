"""Tests of webapp/: the REST API, sessions, the widget, the CLI and serve."""
