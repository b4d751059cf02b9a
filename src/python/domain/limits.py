"""Limits the services agree on."""

MAX_LOG_ENTRIES = 1000
"""The most log entries one ``recent`` call (and one ``GET /logs``) returns."""
