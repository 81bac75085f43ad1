"""Fixtures for tests that need the s3; registered in conftest.py."""
