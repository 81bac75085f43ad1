"""Helpers for the real-generator embed tests (no tests here).

Every ``test_embed_*.py`` builds a tiny site with the real generator, exactly as
docs/embedding.md says: ``afterword build`` writes ``comments-output/`` (what the generator
includes at build time), ``afterword publish`` mirrors it through a local target into the
site's static files, the generator runs, and a static server on loopback serves what it
wrote. The intake runs over real HTTP on loopback, so the form really posts.

``check_thread_page`` and ``check_empty_page`` are the browser checks every recipe must pass:
the included comment reads verbatim, the widget's stylesheet wins over the host theme, the
form posts, and the site's own stylesheet still applies.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from fixtures_browser import StaticServer
from playwright.sync_api import Browser, Page

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.demo import free_port, post_comment
from afterword.intake.server import BackgroundServer
from afterword.pagekey import normalize_page_key, page_folder
from afterword.store import open_store

REPO = Path(__file__).resolve().parent.parent
EMBEDDING_DOC = REPO / "docs" / "embedding.md"
ELEVENTY = REPO / "tests" / "js" / "node_modules" / ".bin" / "eleventy"
PAGEFIND = REPO / "tests" / "js" / "node_modules" / ".bin" / "pagefind"
POST_KEY = "/blog/post/"
AUTHOR = "Ånă Ŵ"  # not ASCII: every generator must read the fragment as UTF-8
# Template syntax of every generator tested: a comment is text, never a template.
TRICKY_BODY = "Keep {{ page.url }}, {% raw %}, {{< ref x >}} and {{ .Title }} as typed."


FENCE = re.compile(r"^```[\w-]*\n(.*?)^```", re.M | re.S)
# A block whose first line is a comment naming a file: "# hugo.toml", "// x.js", "{# a/b #}".
NAMED = re.compile(r"(?:#|//|\{\{/\*|\{#)\s*([\w.-]+(?:/[\w.-]+)*)")

# A site stylesheet with the generic rules host themes have (mkdocs' theme centres every
# footer): the widget's own styles must win inside the thread, and the site's outside it.
HOST_CSS = """
body { background-color: rgb(250, 245, 235); }
h1 { color: rgb(120, 30, 40); }
header, footer { text-align: center; font-weight: 200; }
ol { list-style: decimal; padding-left: 3em; }
li { margin-left: 2em; }
h2 { text-transform: uppercase; border-bottom: 3px solid; }
label { display: inline; }
p { text-align: justify; }
button { background: rgb(200, 0, 0); border-radius: 0; }
input, textarea { border: 5px dashed; }
"""
HOST_CSS_APPLIES = (
    ("body", "background-color", "rgb(250, 245, 235)"),
    ("h1", "color", "rgb(120, 30, 40)"),
)


@dataclass(frozen=True)
class Recipe:
    """The code blocks of one section of docs/embedding.md, as the tests use them."""

    files: dict[str, str]  # blocks whose first line names a file, by that name
    snippets: list[str]  # the other blocks, in order

    def file(self, name: str) -> str:
        assert name in self.files, f"docs/embedding.md has no {name} block: {sorted(self.files)}"
        return self.files[name]


def recipe(heading: str) -> Recipe:
    """The blocks under the heading that starts with ``heading``, up to the next heading."""
    text = EMBEDDING_DOC.read_text("utf-8")
    found = re.search(rf"^##+ {re.escape(heading)}.*\n", text, re.M)
    assert found, f"docs/embedding.md has no section {heading!r}"
    rest = text[found.end() :]
    following = re.search(r"^##", rest, re.M)
    section = rest[: following.start()] if following else rest
    files: dict[str, str] = {}
    snippets: list[str] = []
    for block in FENCE.findall(section):
        named = NAMED.match(block)
        if named:
            files[named.group(1)] = block
        else:
            snippets.append(block)
    return Recipe(files, snippets)


@dataclass
class EmbedSite:
    """A generator project with afterword.toml in it; ``base_url`` serves what it built."""

    root: Path
    base_url: str
    config: Config
    config_file: Path

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(self.config_file), *args])
        assert result.exit_code == 0, result.output
        return result.output

    def seed(self, page_key: str, body: str, author: str = AUTHOR) -> int:
        """A comment posted over HTTP, approved with the CLI; then build and publish."""
        comment_id = post_comment(self.config.intake_url, page_key, author, body, None)
        self.cli("approve", str(comment_id))
        self.publish()
        return comment_id

    def publish(self) -> None:
        self.cli("build")
        self.cli("publish")

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def run(
        self, *argv: str | Path, env_overrides: dict[str, str] | None = None, timeout: float = 120
    ) -> str:
        """Run the generator in the project folder; its output on failure."""
        program = str(argv[0])
        assert shutil.which(program), f"{program} is not installed (.ci/run installs it)"
        env = {**os.environ, **(env_overrides or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        result = subprocess.run(
            [str(a) for a in argv],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def rows(self) -> list[tuple[str, str, str]]:
        """(page key, author, status) of every stored comment, oldest first."""
        with open_store(self.config.database_path) as store:
            found = store.query("SELECT page_key, author, status FROM comments ORDER BY id")
            return [(r["page_key"], r["author"], r["status"]) for r in found]


@contextmanager
def embed_site(root: Path, base_url: str, heading: str) -> Iterator[EmbedSite]:
    """afterword.toml in ``root`` as docs/embedding.md says (the shared ``[build]`` block and
    the recipe's own target), with the site at ``base_url`` (ending in "/") and the intake
    running on a free loopback port."""
    root.mkdir(parents=True, exist_ok=True)
    config_file = root / "afterword.toml"
    shared = recipe("Build-time include").file("afterword.toml")
    target = recipe(heading).file("afterword.toml")
    config_file.write_text(
        f'[site]\nurl = "{base_url}"\n[intake]\nport = {free_port()}\n'
        "[limits]\nper_minute = 0\nper_hour = 0\n" + shared + target,
        encoding="utf-8",
    )
    config = load_config(config_file, environ={})
    with BackgroundServer(config, port=config.intake.port):
        yield EmbedSite(root, base_url, config, config_file)


def computed(page: Page, selector: str, prop: str) -> str:
    """The computed value of CSS property ``prop`` on the first match of ``selector``."""
    value: str = page.eval_on_selector(
        selector, "(e, p) => getComputedStyle(e).getPropertyValue(p)", prop
    )
    return value


def requested(page: Page, pattern: str) -> list[str]:
    """URLs the page requested that match the regular expression ``pattern``."""
    return [u for u in page.requests if re.search(pattern, u)]  # type: ignore[attr-defined]


def check_widget_styles(page: Page) -> None:
    """afterword's stylesheet, not the host theme, decides how the thread looks."""
    page.locator(".afterword-form").wait_for()
    assert computed(page, ".afterword-form label", "display") == "block"
    assert computed(page, ".afterword-heading", "text-transform") == "none"
    assert computed(page, ".afterword-heading", "border-bottom-width") == "0px"
    submit = ".afterword-form [type=submit]"
    assert computed(page, submit, "background-color") == "rgb(10, 88, 184)"  # the accent
    assert computed(page, submit, "border-top-left-radius") == "6px"
    assert computed(page, ".afterword-form textarea", "border-top-style") == "solid"
    assert computed(page, ".afterword-thread", "text-align") in ("start", "left")
    assert computed(page, "#afterword-pending", "display") == "none"
    assert computed(page, "#afterword-error", "display") == "none"
    assert not page.locator("#afterword-pending").is_visible()
    if page.locator(".afterword-comment footer").count():
        footer = ".afterword-comment footer"
        assert computed(page, footer, "text-align") in ("start", "left")
        assert computed(page, footer, "font-weight") == "400"
        assert computed(page, ".afterword-comments", "list-style-type") == "none"
        assert computed(page, ".afterword-comments", "padding-left") == "0px"
        assert computed(page, ".afterword-comment", "margin-left") == "0px"


def check_site_css(page: Page, site_css: Sequence[tuple[str, str, str]]) -> None:
    """The site's own rules still apply: (selector, property, expected computed value)."""
    for selector, prop, expected in site_css:
        assert computed(page, selector, prop) == expected, (selector, prop)


def post_from(page: Page, author: str, body: str) -> None:
    page.fill(".afterword-form [name=body]", body)  # the compact form: comment box first
    page.fill(".afterword-form [name=author]", author)
    page.locator(".afterword-form [type=submit]").click()
    page.locator(".afterword-pending").wait_for()


def check_thread_page(
    page: Page,
    site: EmbedSite,
    path: str,
    comment_id: int,
    body: str,
    site_css: Sequence[tuple[str, str, str]],
) -> None:
    """The page with an included thread: it reads without a fetch, styled, and posts."""
    page.goto(site.url(path))
    page.wait_for_load_state("load")
    body_locator = page.locator(f"#c{comment_id} .afterword-body")
    assert body_locator.inner_text().strip() == body
    assert page.locator(f"#c{comment_id} header > b").inner_text() == AUTHOR
    check_widget_styles(page)
    check_site_css(page, site_css)
    page.wait_for_timeout(200)
    assert requested(page, r"/afterword\.js$"), "the embed's script was not loaded"
    fragments = r"/threads/.*comments(-\d+)?\.html$|/empty\.html$"
    assert requested(page, fragments) == [], "the included thread was fetched again"
    before = len(site.rows())
    post_from(page, "Zoë", "Posted from the generated page")
    rows = site.rows()
    assert len(rows) == before + 1
    assert rows[-1] == (normalize_page_key(path), "Zoë", "pending")


def check_without_javascript(
    browser: Browser, site: EmbedSite, path: str, comment_id: int, body: str
) -> None:
    """The build-time include alone: the thread reads, styled by the stylesheet in <head>,
    and the plain form posts and comes back to the page (``#afterword-pending``)."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(site.url(path))
        assert page.locator(f"#c{comment_id} .afterword-body").inner_text().strip() == body
        assert page.locator(f"#c{comment_id} header > b").inner_text() == AUTHOR
        check_widget_styles(page)
        page.fill(".afterword-form [name=author]", "No Script")
        page.fill(".afterword-form [name=body]", "Posted by the plain form")
        with page.expect_navigation():
            page.locator(".afterword-form [type=submit]").click()
        assert page.url == site.url(path) + "#afterword-pending"
        assert page.locator("#afterword-pending").is_visible()
        assert site.rows()[-1] == (normalize_page_key(path), "No Script", "pending")
    finally:
        context.close()


def check_empty_page(
    page: Page,
    site: EmbedSite,
    path: str,
    page_key: str,
    site_css: Sequence[tuple[str, str, str]],
) -> None:
    """A page with no thread yet: the container is empty, the script fills it in, it posts."""
    page.goto(site.url(path))
    page.locator(".afterword-form").wait_for()
    assert page.locator(".afterword-comment").count() == 0
    check_widget_styles(page)
    check_site_css(page, site_css)
    assert page.locator(".afterword-form [name=page]").input_value() == page_key
    post_from(page, "Ida", "First!")
    assert site.rows()[-1] == (page_key, "Ida", "pending")


def assert_verbatim_copy(site: EmbedSite, published: str, out: str, key: str) -> None:
    """The generator copied the published fragment byte for byte (it did not template it)."""
    folder = page_folder(key)
    for name in ("comments.html", "comments.json"):
        source = site.root / published / folder / name
        assert source.is_file(), source
        assert (site.root / out / "comments" / folder / name).read_bytes() == source.read_bytes()


def check_recipe_pages(
    browser: Browser,
    page: Page,
    site: EmbedSite,
    comment_id: int,
    empty_path: str,
    site_css: Sequence[tuple[str, str, str]],
    *,
    follow_home_link: bool = True,
) -> None:
    """What every generator's recipe must pass, in this order: the seeded post (``POST_KEY``,
    ``TRICKY_BODY``) without JavaScript, then with it; a page with no thread yet
    (``empty_path``, which is its own page key); and, with ``follow_home_link``, the home
    page's link to the post."""
    check_without_javascript(browser, site, POST_KEY, comment_id, TRICKY_BODY)
    check_thread_page(page, site, POST_KEY, comment_id, TRICKY_BODY, site_css)
    check_empty_page(page, site, empty_path, empty_path, site_css)
    if follow_home_link:
        page.goto(site.url("/"))
        page.locator(f"a[href='{POST_KEY}']").first.click()
        page.wait_for_url(site.url(POST_KEY))


@contextmanager
def served_site(
    tmp_path: Path, static_server: Callable[[Path], StaticServer], built: str, heading: str
) -> Iterator[tuple[EmbedSite, Recipe]]:
    """``embed_site`` for a generator that writes the site into ``built`` (a folder of
    ``tmp_path``, served on loopback), with the recipe of ``heading``."""
    with embed_site(tmp_path, static_server(tmp_path / built).url, heading) as site:
        yield site, recipe(heading)
