"""The builder: approved comments → static JSON, HTML fragments, counts and feeds.

Cost grows with what changed, never with the size of the site, and the output is always what
a full build from scratch would produce (``docs/json-format.md`` describes every file).
"""

from afterword.builder.site import BuildReport, build_site

__all__ = ["BuildReport", "build_site"]
