"""Playwright + Chromium end-to-end tests of the widget, embedding and recording fallback."""
