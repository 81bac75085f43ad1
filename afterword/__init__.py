"""afterword: comments for static sites, with no live read path."""

__version__ = "0.1.0"
