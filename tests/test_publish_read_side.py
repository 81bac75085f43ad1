"""The read side of S3: the bucket policies and CORS rule of docs/publishing.md, end to end.

A page is served from one loopback origin by a static server; its comments are built and
published with ``afterword publish`` to a bucket on the moto server (another origin); the
page embeds ``afterword.js`` from the bucket endpoint and Chromium reads the comments
cross-origin. The JSON the tests apply is taken from the docs' marked blocks with only the
example names replaced, so the docs cannot drift from what was tested; and
``afterword.output.policies`` must make exactly those blocks.

What moto enforces, and so what is tested against it:

- an anonymous GET of an object is refused (``403``) unless a bucket policy statement with
  ``"Principal": "*"`` allows ``s3:GetObject`` on a Resource that matches the key: tested
  without a policy, with the public policy, and for keys outside the prefix;
- CORS on GET: with moto's own allow-everything CORS layer switched off
  (``MOTO_DISABLE_GLOBAL_CORS``, hence a moto server of our own in a subprocess), moto sends
  ``Access-Control-Allow-Origin`` only when a bucket CORS rule names the request's origin, so
  Chromium really blocks a fetch without the rule, or with a rule for another origin.

What moto does not enforce, said here rather than pretended:

- a policy ``Principal`` other than ``"*"`` and conditions such as ``AWS:SourceArn``: moto
  lets an anonymous GET through with the CloudFront policy, where S3 refuses it, and moto's
  CloudFront never fetches from an origin (nor keeps an origin's ``OriginAccessControlId``).
  The CloudFront test therefore checks that the docs' OAC command and the policy are accepted,
  that its ``AWS:SourceArn`` is the distribution's ARN as CloudFront reports it, and that it
  grants the very action and resource proven with the public policy;
- Block Public Access (stored, never checked), and HEAD is authorized as a ``s3:HeadObject``
  action that real S3 does not have (the widget never sends HEAD);
- CORS preflights: moto answers every ``OPTIONS`` on an object ``403``. The widget's reads
  are simple requests that need no preflight, and the passing Chromium test proves it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import add_rendered, run_afterword
from fixtures_browser import StaticServer, page_html, start_static_server, write_page
from fixtures_s3 import toml_table
from playwright.sync_api import Browser, Page

from afterword.config import TargetConfig, load_config
from afterword.errors import ConfigError
from afterword.output import policies
from afterword.scaffold import write_config
from afterword.store import open_store

pytestmark = pytest.mark.s3

DOCS = Path(__file__).resolve().parent.parent / "docs" / "publishing.md"
BLOCK = re.compile(r"<!-- afterword:read-side ([\w-]+) -->\n```json\n(.*?)\n```", re.DOTALL)
# The example names docs/publishing.md uses, and the prefix every test target keeps.
EXAMPLE_BUCKET = "my-comments"
EXAMPLE_ORIGIN = "https://www.example.com"
EXAMPLE_ACCOUNT = "123456789012"
EXAMPLE_DISTRIBUTION = "E123EXAMPLE"
EXAMPLE_SOURCE_ARN = f"arn:aws:cloudfront::{EXAMPLE_ACCOUNT}:distribution/{EXAMPLE_DISTRIBUTION}"
PREFIX = "comments/"
KEY = "/blog/post/"
BODY = "Read straight from the bucket"
CORS_REFUSED = "blocked by CORS policy"
LOAD_ERROR = "Comments could not be loaded."

SERVER_SCRIPT = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


def docs_blocks() -> dict[str, str]:
    """The marked JSON blocks of docs/publishing.md's read-side section, by name."""
    found = dict(BLOCK.findall(DOCS.read_text(encoding="utf-8")))
    assert set(found) == {
        "cloudfront-bucket-policy",
        "public-access-block",
        "website-bucket-policy",
        "cors",
    }, sorted(found)
    return found


def docs_document(name: str, **names: str) -> dict[str, Any]:
    """A docs block with the example names replaced (bucket, origin, source_arn)."""
    text = docs_blocks()[name]
    replacements = {
        EXAMPLE_SOURCE_ARN: names.get("source_arn", EXAMPLE_SOURCE_ARN),
        EXAMPLE_BUCKET: names.get("bucket", EXAMPLE_BUCKET),
        EXAMPLE_ORIGIN: names.get("origin", EXAMPLE_ORIGIN),
    }
    for example, real in replacements.items():
        text = text.replace(example, real)
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture(scope="module")
def strict_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 + CloudFront in a subprocess, its global CORS layer off, on a loopback port.

    A subprocess because the switch is read when moto builds its app: flipping it in this
    process would change the shared ``moto_endpoint`` server of the other tests too.
    """
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "true"}
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
    assert process.stdout is not None
    assert process.stdin is not None
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(process.stdout.readline().decode()))
    reader.start()
    reader.join(30)
    try:
        port = ready[0].strip() if ready else ""
        assert port.isdigit(), log.read_text(errors="replace")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stdout.close()


@dataclass
class Site:
    """A built site whose pages are served from ``server`` (one origin)."""

    root: Path
    server: StaticServer
    endpoint: str
    published: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.server.url.rstrip("/")

    @property
    def page_url(self) -> str:
        return self.server.url + KEY.lstrip("/")


@dataclass
class Bucket:
    """A fresh bucket holding what ``afterword publish`` uploaded under ``PREFIX``."""

    name: str
    site: Site
    client: Any

    def url(self, key: str) -> str:
        return f"{self.site.endpoint}/{self.name}/{PREFIX}{key}"

    def embed(self) -> None:
        """The page embeds the widget (and a count badge) from the bucket, as docs say."""
        container = '<div data-afterword></div><p class="count" data-afterword-count></p>'
        html = page_html(container=container, script=self.url("afterword.js"))
        write_page(self.site.root / "public", KEY, html)

    def apply_docs(self, name: str) -> None:
        """Apply the docs' JSON block ``name`` to this bucket, example names replaced."""
        document = docs_document(name, bucket=self.name, origin=self.site.origin)
        if name == "website-bucket-policy":
            self.client.put_bucket_policy(Bucket=self.name, Policy=json.dumps(document))
        elif name == "public-access-block":
            self.client.put_public_access_block(
                Bucket=self.name, PublicAccessBlockConfiguration=document
            )
        else:
            assert name == "cors", name
            self.client.put_bucket_cors(Bucket=self.name, CORSConfiguration=document)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, strict_moto: str) -> Iterator[Site]:
    """One approved comment on /blog/post/, approved and built through the CLI."""
    root = tmp_path_factory.mktemp("site")
    (root / "public").mkdir()
    server = start_static_server(root / "public")
    try:
        write_config(root, site_url=server.url)
        config = load_config(root / "afterword.toml", environ={})
        with open_store(config.database_path) as store:
            comment = add_rendered(store, BODY, page_key=KEY)
        for args in (["approve", str(comment.id)], ["build"]):
            result = run_afterword(*args, cwd=root)
            assert result.returncode == 0, result.stderr
        yield Site(root, server, strict_moto)
    finally:
        server.stop()


@pytest.fixture
def bucket(site: Site) -> Bucket:
    """A new bucket and target, filled by a real ``afterword publish`` subprocess."""
    name = f"afterword-read-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=site.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    target = f"read{len(site.published)}"
    site.published.append(target)
    settings = {
        "kind": "s3",
        "bucket": name,
        "prefix": PREFIX,
        "region": "us-east-1",
        "endpoint_url": site.endpoint,
    }
    with (site.root / "afterword.toml").open("a", encoding="utf-8") as handle:
        handle.write(toml_table(f"targets.{target}", settings))
    result = run_afterword("publish", "--target", target, cwd=site.root)
    assert result.returncode == 0, result.stderr
    made = Bucket(name, site, client)
    made.embed()
    return made


def anonymous_get(url: str, origin: str = "") -> tuple[int, dict[str, str]]:
    """A GET with no credentials at all, as a reader's browser makes it."""
    request = urllib.request.Request(url, headers={"Origin": origin} if origin else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers)


@pytest.fixture
def reader(chromium_browser: Browser) -> Iterator[Page]:
    """A fresh page recording its console messages and the status of every response."""
    context = chromium_browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    console: list[str] = []
    statuses: dict[str, int] = {}
    page.on("console", lambda message: console.append(message.text))
    page.on("response", lambda response: statuses.__setitem__(response.url, response.status))
    page.console = console  # type: ignore[attr-defined]
    page.statuses = statuses  # type: ignore[attr-defined]
    yield page
    context.close()


# --- The docs and the module agree ------------------------------------------------------------


def test_docs_blocks_are_what_policies_makes() -> None:
    """Each JSON block in the docs is exactly the module's document for the example names."""
    source = policies.distribution_arn(EXAMPLE_ACCOUNT, EXAMPLE_DISTRIBUTION)
    expected = {
        "cloudfront-bucket-policy": policies.cloudfront_policy(EXAMPLE_BUCKET, PREFIX, source),
        "public-access-block": policies.public_access_block(),
        "website-bucket-policy": policies.website_policy(EXAMPLE_BUCKET, PREFIX),
        "cors": policies.cors_configuration([EXAMPLE_ORIGIN]),
    }
    assert source == EXAMPLE_SOURCE_ARN
    for name, text in docs_blocks().items():
        assert json.loads(text) == expected[name], name
        assert json.loads(policies.as_json(expected[name])) == expected[name]


def test_reader_documents_for_a_configured_target(tmp_path: Path) -> None:
    """From afterword.toml's target table to the documents, as a print command would."""
    write_config(tmp_path, site_url="https://www.example.com/blog/")
    table = {
        "kind": "s3",
        "bucket": EXAMPLE_BUCKET,
        "prefix": "/comments/",
        "cloudfront_distribution_id": EXAMPLE_DISTRIBUTION,
    }
    with (tmp_path / "afterword.toml").open("a", encoding="utf-8") as handle:
        handle.write(toml_table("targets.cdn", table))
    target = load_config(tmp_path / "afterword.toml", environ={}).targets["cdn"]

    cdn = policies.reader_documents("cdn", target, reader="cloudfront", account_id=EXAMPLE_ACCOUNT)
    assert cdn == {"bucket-policy": docs_document("cloudfront-bucket-policy")}
    public = policies.reader_documents("cdn", target, reader="website", origins=[EXAMPLE_ORIGIN])
    assert public == {
        "bucket-policy": docs_document("website-bucket-policy"),
        "public-access-block": docs_document("public-access-block"),
        "cors": docs_document("cors"),
    }


# --- What moto enforces: anonymous reads, the prefix, CORS in Chromium -------------------------


@pytest.mark.browser
def test_without_a_policy_readers_are_refused(bucket: Bucket, reader: Page) -> None:
    """A fresh bucket refuses everyone: the embed's script does not even load."""
    assert anonymous_get(bucket.url("afterword.js"))[0] == 403
    assert anonymous_get(bucket.url("threads/blog/post/comments.html"))[0] == 403
    bucket.apply_docs("cors")

    reader.goto(bucket.site.page_url, wait_until="load")

    assert reader.statuses[bucket.url("afterword.js")] == 403  # type: ignore[attr-defined]
    assert reader.evaluate("typeof window.afterword") == "undefined"
    assert reader.locator(".afterword-thread").count() == 0


@pytest.mark.browser
def test_public_policy_and_cors_rule_render_the_comments(bucket: Bucket, reader: Page) -> None:
    """The docs' three blocks for a public bucket: Chromium renders the thread and the count."""
    for name in ("public-access-block", "website-bucket-policy", "cors"):
        bucket.apply_docs(name)

    reader.goto(bucket.site.page_url)

    reader.locator(".afterword-comment", has_text=BODY).wait_for()
    reader.locator(".count", has_text="1 comment").wait_for()
    statuses = reader.statuses  # type: ignore[attr-defined]
    assert statuses[bucket.url("threads/blog/post/comments.html")] == 200
    assert statuses[bucket.url("threads/blog/comments-counts.json")] == 200
    assert not bucket.site.origin.startswith(bucket.site.endpoint)
    assert not [m for m in reader.console if CORS_REFUSED in m]  # type: ignore[attr-defined]


@pytest.mark.browser
@pytest.mark.parametrize("rule", ["none", "another origin"])
def test_cross_origin_fetch_fails_without_a_matching_cors_rule(
    bucket: Bucket, reader: Page, rule: str
) -> None:
    """Readable objects are not enough: without the site's origin in a rule Chromium blocks."""
    bucket.apply_docs("public-access-block")
    bucket.apply_docs("website-bucket-policy")
    if rule == "another origin":
        # The docs' block as printed, naming https://www.example.com, not the test page.
        document = docs_document("cors", bucket=bucket.name)
        bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration=document)

    with reader.expect_console_message(lambda message: CORS_REFUSED in message.text):
        reader.goto(bucket.site.page_url)

    reader.locator("[data-afterword] .afterword-status", has_text=LOAD_ERROR).wait_for()
    assert reader.locator(".afterword-comment").count() == 0
    assert reader.evaluate("typeof window.afterword") == "object"  # the script itself loaded


def test_public_policy_opens_the_prefix_only(bucket: Bucket) -> None:
    """Objects beside the prefix stay private, including keys that merely start alike."""
    bucket.apply_docs("public-access-block")
    bucket.apply_docs("website-bucket-policy")
    for key in ("private/notes.txt", "comments-archive/old.html", "comments"):
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"not for readers")

    assert anonymous_get(bucket.url("afterword.js"))[0] == 200
    assert anonymous_get(bucket.url("threads/blog/post/comments.html"))[0] == 200
    for key in ("private/notes.txt", "comments-archive/old.html", "comments"):
        assert anonymous_get(f"{bucket.site.endpoint}/{bucket.name}/{key}")[0] == 403, key


def test_cors_rule_names_only_the_site_origin(bucket: Bucket) -> None:
    """The rule answers the site's origin and no other (what Chromium acts on above)."""
    bucket.apply_docs("website-bucket-policy")
    bucket.apply_docs("cors")
    url = bucket.url("threads/blog/post/comments.html")

    status, headers = anonymous_get(url, origin=bucket.site.origin)
    assert status == 200
    assert headers.get("Access-Control-Allow-Origin") == bucket.site.origin
    status, headers = anonymous_get(url, origin="http://evil.example")
    assert status == 200
    assert "Access-Control-Allow-Origin" not in headers


def docs_oac_config() -> dict[str, str]:
    """The Origin Access Control the docs create, from their ``aws cloudfront`` command."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"--origin-access-control-config\s+([\w=,]+)", text)
    assert found, "docs/publishing.md lost its create-origin-access-control command"
    return dict(pair.split("=", 1) for pair in found.group(1).split(","))


def distribution_with_oac(client: Any, bucket: str, oac_id: str) -> str:
    """A distribution whose S3 origin (the REST endpoint) signs with the OAC, as docs say."""
    origin_id = f"{bucket}-origin"
    answer = client.create_distribution(
        DistributionConfig={
            "CallerReference": uuid.uuid4().hex,
            "Comment": "afterword read side",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": origin_id,
                        "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                        "OriginAccessControlId": oac_id,
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": origin_id,
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )
    return str(answer["Distribution"]["Id"])


def test_cloudfront_policy_names_the_distribution(bucket: Bucket) -> None:
    """The docs' OAC and policy are accepted; the SourceArn is the distribution's real ARN.

    moto evaluates neither the service principal nor the condition, and does not keep the
    origin's OAC id (see the module doc), so the grant itself is compared with the public
    policy's, which moto does enforce.
    """
    endpoint = bucket.site.endpoint
    cloudfront = boto3.client("cloudfront", endpoint_url=endpoint, region_name="us-east-1")
    oac = cloudfront.create_origin_access_control(OriginAccessControlConfig=docs_oac_config())
    oac_id = oac["OriginAccessControl"]["Id"]
    distribution = distribution_with_oac(cloudfront, bucket.name, oac_id)
    # botocore validated the origin's OriginAccessControlId (moto does not keep it).
    stored_oac = cloudfront.get_origin_access_control(Id=oac_id)["OriginAccessControl"]
    assert stored_oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert stored_oac["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    arn = cloudfront.get_distribution(Id=distribution)["Distribution"]["ARN"]
    account = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1")
    account_id = account.get_caller_identity()["Account"]
    assert policies.distribution_arn(account_id, distribution) == arn

    document = docs_document("cloudfront-bucket-policy", bucket=bucket.name, source_arn=arn)
    bucket.client.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(document))

    stored = json.loads(bucket.client.get_bucket_policy(Bucket=bucket.name)["Policy"])
    assert stored == document
    target = TargetConfig(
        kind="s3", bucket=bucket.name, prefix=PREFIX, cloudfront_distribution_id=distribution
    )
    made = policies.reader_documents("cdn", target, reader="cloudfront", account_id=account_id)
    assert made["bucket-policy"] == document
    (granted,) = document["Statement"]
    (public,) = docs_document("website-bucket-policy", bucket=bucket.name)["Statement"]
    assert (granted["Action"], granted["Resource"]) == (public["Action"], public["Resource"])
    assert granted["Condition"] == {"StringEquals": {"AWS:SourceArn": arn}}


# --- Bad input to the policy module --------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "complaint"),
    [
        ("https://www.example.com/", "more than scheme and host"),
        ("https://www.example.com/blog/", "more than scheme and host"),
        ("https://www.example.com?", "more than scheme and host"),
        ("https://user@www.example.com", "more than scheme and host"),
        ("www.example.com", "not an http"),
        ("ftp://www.example.com", "not an http"),
        ("https://www.example.com:port", "not a URL"),
        ("https://WWW.example.com", "lowercase"),
    ],
)
def test_cors_refuses_what_is_not_an_origin(origin: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        policies.cors_configuration([origin])


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8080", "https://[::1]:8443", "*"])
def test_cors_takes_origins_as_browsers_send_them(origin: str) -> None:
    rule = policies.cors_configuration([origin])["CORSRules"][0]
    assert rule["AllowedOrigins"] == [origin]


def test_cors_needs_an_origin() -> None:
    with pytest.raises(ConfigError, match="at least one origin"):
        policies.cors_configuration([])


@pytest.mark.parametrize(
    ("account", "distribution", "complaint"),
    [
        ("1234", "E123EXAMPLE", "12 digits"),
        ("12345678901a", "E123EXAMPLE", "12 digits"),
        ("123456789012", "e123example", "capital letters"),
        ("123456789012", "", "capital letters"),
    ],
)
def test_distribution_arn_refuses_bad_ids(account: str, distribution: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        policies.distribution_arn(account, distribution)


def test_objects_arn_is_literal_and_normalized_like_the_target() -> None:
    """IAM wildcards in a prefix are escaped; a leading slash goes, as the s3 target drops it."""
    assert policies.objects_arn("b", "/comments/") == "arn:aws:s3:::b/comments/*"
    assert policies.objects_arn("b", "") == "arn:aws:s3:::b/*"
    assert policies.objects_arn("b", "a*b?/$x/") == "arn:aws:s3:::b/a${*}b${?}/${$}x/*"
    with pytest.raises(ConfigError, match="needs the target's bucket"):
        policies.objects_arn("", "comments/")


@pytest.mark.parametrize(
    ("target", "reader", "complaint"),
    [
        (TargetConfig(kind="local", path="out"), "website", "kind = 's3'"),
        (TargetConfig(kind="s3", bucket="b"), "cloudfront", "cloudfront_distribution_id"),
        (TargetConfig(kind="s3", bucket="b"), "public", "expected cloudfront or website"),
    ],
)
def test_reader_documents_refuses_what_cannot_work(
    target: TargetConfig, reader: str, complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        policies.reader_documents("cdn", target, reader=reader, account_id=EXAMPLE_ACCOUNT)
