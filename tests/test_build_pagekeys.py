"""The shared page-key vectors decide the output folder names."""

from __future__ import annotations

import json
from pathlib import Path

from test_build_support import add

from afterword.builder import build_site
from afterword.config import Config
from afterword.store import Store

VECTORS = json.loads((Path(__file__).parent / "vectors" / "page_keys.json").read_text("utf-8"))


def test_build_pagekeys_vectors_name_the_thread_folders(config: Config, store: Store) -> None:
    cases = {v["key"]: v["encoded"] for v in VECTORS if "key" in v}
    assert len(cases) > 20
    for key in cases:
        add(store, key)
    build_site(config, store)
    out = Path(config.output_dir)
    for key, encoded in cases.items():
        folder = out / "threads" / encoded if encoded else out / "threads"
        data = json.loads((folder / "comments.json").read_bytes())
        assert data["page"] == key
        assert data["count"] == 1
        assert (folder / "comments.html").is_file()
