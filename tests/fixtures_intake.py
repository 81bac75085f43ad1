"""Fixtures for tests that need the intake; registered in conftest.py."""
