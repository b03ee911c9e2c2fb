"""Fixtures of the connector tests: the real Request Tracker is tests/fixtures/rt.py (a plugin)."""
