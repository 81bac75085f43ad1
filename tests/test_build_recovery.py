"""A build that dies half-way is finished by the next one, not left half-recorded."""

from __future__ import annotations

import pytest
from test_build_support import add, assert_manifest_matches, tree

from afterword.builder import build_site
from afterword.builder.counts import CountUpdater
from afterword.config import Config
from afterword.errors import BuildError
from afterword.store import Store, moderate


def test_build_recovery_after_failure_between_pages_and_counts(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = add(store, "/blog/a/", "One")
    build_site(config, store)
    second = add(store, "/blog/a/", "Two", status="pending")
    moderate(store, [second], "approve", actor="test")
    assert first != second

    def explode(*args: object, **kwargs: object) -> None:
        raise BuildError("disk full (injected)")

    with monkeypatch.context() as patch:
        patch.setattr(CountUpdater, "write", explode)
        with pytest.raises(BuildError, match="injected"):
            build_site(config, store)

    report = build_site(config, store)
    assert report.full, "the build after a failed one must redo everything"
    output = tree(config.output_dir)
    assert b'"/blog/a/":2' in output["threads/blog/comments-counts.json"]
    assert_manifest_matches(store, config)
    again = build_site(config, store)
    assert again.files_written == 0
    assert not again.full
