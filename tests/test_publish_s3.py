"""Publishing to S3 + CloudFront (moto's server over real HTTP, through a counting proxy)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from fixtures_s3 import S3Env, add_to_config, write_output

from afterword.config import Config, load_config
from afterword.output.base import FRAGMENT_CACHE, IMMUTABLE_CACHE
from afterword.output.publish import publish_changes
from afterword.store import Store
from afterword.store.publish import list_invalidations, read_published

pytestmark = pytest.mark.s3

FILES = {
    "threads/blog/one/comments.json": b'{"count": 1}',
    "threads/blog/one/comments.html": b"<section>one</section>",
    "threads/blog/two/comments.json": b'{"count": 2}',
    "counts/blog.json": b'{"/blog/one/": 1}',
    "feed.xml": b"<feed/>",
    "afterword.0123456789ab.js": b"console.log(1)",
    "afterword.js": b"console.log(1)",
}


def s3_config(site_dir: Path, s3: S3Env, **extra: object) -> Config:
    add_to_config(site_dir, s3.target_toml("cdn", **extra))
    return load_config(site_dir / "afterword.toml")


def test_publish_objects_land_with_headers(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    report = publish_changes(config, store, "cdn")
    assert report.uploaded == len(FILES)
    assert s3.objects() == FILES
    head = s3.direct.head_object(Bucket=s3.bucket, Key="threads/blog/one/comments.json")
    assert head["ContentType"] == "application/json; charset=utf-8"
    assert head["CacheControl"] == FRAGMENT_CACHE
    assert (
        head["Metadata"]["sha256"]
        == hashlib.sha256(FILES["threads/blog/one/comments.json"]).hexdigest()
    )
    asset = s3.direct.head_object(Bucket=s3.bucket, Key="afterword.0123456789ab.js")
    assert asset["CacheControl"] == IMMUTABLE_CACHE
    assert asset["ContentType"] == "text/javascript; charset=utf-8"
    short = s3.direct.head_object(Bucket=s3.bucket, Key="afterword.js")
    assert short["CacheControl"].startswith("public, max-age=300")
    assert read_published(store, "cdn") == {
        k: hashlib.sha256(v).hexdigest() for k, v in FILES.items()
    }


def test_publish_sends_content_md5(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, {"feed.xml": b"<feed/>"})
    s3.proxy.inject("PUT", 400, "BadDigest", times=1)
    with pytest.raises(Exception, match="checksum mismatch"):
        publish_changes(config, store, "cdn")
    report = publish_changes(config, store, "cdn")
    assert report.uploaded == 1
    etag = s3.direct.head_object(Bucket=s3.bucket, Key="feed.xml")["ETag"].strip('"')
    assert base64.b16encode(hashlib.md5(b"<feed/>").digest()).decode().lower() == etag


def test_publish_second_run_makes_no_request(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    publish_changes(config, store, "cdn")
    assert s3.proxy.count("PUT") == len(FILES)
    s3.proxy.reset()
    report = publish_changes(config, store, "cdn")
    assert s3.proxy.count() == 0
    assert (report.uploaded, report.deleted, report.requests) == (0, 0, 0)


def test_publish_first_run_invalidates_all_but_new_hashed_assets(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    publish_changes(config, store, "cdn")
    expected = sorted("/" + k for k in FILES if k != "afterword.0123456789ab.js")
    assert s3.invalidated_paths() == [expected]
    assert [i.state for i in list_invalidations(store, "cdn")] == ["completed"]


def test_publish_change_uploads_and_invalidates_exactly_it(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    config = s3_config(site_dir, s3, prefix="comments/")
    write_output(store, config.output_dir, FILES)
    publish_changes(config, store, "cdn")
    s3.proxy.reset()
    changed = {"threads/blog/one/comments.json": b'{"count": 2}', "feed.xml": b"<feed>2</feed>"}
    write_output(store, config.output_dir, changed)
    report = publish_changes(config, store, "cdn")
    assert report.uploaded == 2
    assert s3.proxy.count("PUT") == 2
    assert s3.proxy.count("POST", "/2020-05-31/") == 1
    assert s3.invalidated_paths()[-1] == sorted("/comments/" + k for k in changed)
    assert s3.objects()["comments/feed.xml"] == b"<feed>2</feed>"


def test_publish_deleted_thread_is_removed_and_invalidated(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    publish_changes(config, store, "cdn")
    gone = ("threads/blog/two/comments.json",)
    write_output(store, config.output_dir, {"counts/blog.json": b"{}"}, removed=gone)
    report = publish_changes(config, store, "cdn")
    assert (report.uploaded, report.deleted) == (1, 1)
    assert gone[0] not in s3.objects()
    assert s3.invalidated_paths()[-1] == ["/counts/blog.json", "/" + gone[0]]
    assert gone[0] not in read_published(store, "cdn")


def test_publish_many_changes_invalidate_one_wildcard(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    config = s3_config(site_dir, s3, prefix="c/", invalidation_wildcard_over=3)
    write_output(store, config.output_dir, FILES)
    report = publish_changes(config, store, "cdn")
    assert s3.invalidated_paths() == [["/c/*"]]
    assert report.invalidated == ("/c/*",)


def test_publish_dry_run_changes_nothing(site_dir: Path, store: Store, s3: S3Env) -> None:
    config = s3_config(site_dir, s3)
    write_output(store, config.output_dir, FILES)
    report = publish_changes(config, store, "cdn", dry_run=True)
    assert report.planned_uploads == tuple(sorted(FILES))
    assert s3.proxy.count() == 0
    assert read_published(store, "cdn") == {}
    assert list_invalidations(store, "cdn") == []


def test_publish_without_cdn_uses_short_shared_lifetime(
    site_dir: Path, store: Store, s3: S3Env
) -> None:
    add_to_config(
        site_dir,
        f'\n[targets.bare]\nkind = "s3"\nbucket = "{s3.bucket}"\nendpoint_url = "{s3.endpoint}"\n'
        "shared_max_age = 30\n",
    )
    config = load_config(site_dir / "afterword.toml")
    write_output(store, config.output_dir, FILES)
    publish_changes(config, store, "bare")
    head = s3.direct.head_object(Bucket=s3.bucket, Key="feed.xml")
    assert head["CacheControl"] == "public, max-age=60, s-maxage=30, stale-while-revalidate=86400"
    assert s3.proxy.count("POST") == 0
    assert list_invalidations(store, "bare") == []
