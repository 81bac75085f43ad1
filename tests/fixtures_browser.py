"""Fixtures for tests that need the browser; registered in conftest.py."""
