"""afterword.toml → a frozen, typed ``Config``.

Every setting is declared once, as a dataclass field with its default and its help text
(``metadata["help"]``); the loader, ``afterword init``'s commented template and
``docs/configuration.md`` are all derived from those declarations, so they cannot drift.

Precedence: built-in default < file < ``AFTERWORD_<SECTION>_<KEY>`` environment variable.
Relative paths resolve against the folder holding the config file. Anything wrong — an unknown
key, a value of the wrong type or out of range — is a ``ConfigError`` naming the key and the
file, with the nearest known key when it looks like a typo.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from afterword.errors import ConfigError

DEFAULT_CONFIG_NAME = "afterword.toml"
_QUEUE_URL = re.compile(r"https?://[^\s/?#]+(/[^\s/?#]+)+")
ENV_CONFIG = "AFTERWORD_CONFIG"
ENV_PREFIX = "AFTERWORD_"

T = TypeVar("T")


def setting(
    default: Any,
    help: str,
    *,
    path: bool = False,
    choices: tuple[str, ...] = (),
    minimum: float = 0,
    maximum: float | None = None,
    key: str = "",
) -> Any:
    """Declare one setting: its default, the help shown in docs and the init template.

    ``key``: the name in ``afterword.toml`` when it cannot be the field's (``from``).
    """
    meta = {"help": help, "path": path, "choices": choices, "min": minimum, "max": maximum}
    if key:
        meta["key"] = key
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SiteConfig:
    url: str = setting(
        "http://127.0.0.1:8080", "Public URL of the static site; form posts redirect here."
    )
    title: str = setting("My site", "Site name, used in feeds and the review queue.")
    allowed_origins: list[str] = setting(
        [], "Origins allowed to post (CORS and redirect targets). The site URL's origin always is."
    )
    pages: list[str] = setting(
        [], "Glob allowlist of page keys that accept comments, e.g. ['/blog/*']. Empty: any page."
    )
    language: str = setting("en", "Language of built-in strings: en, de, fr, es, zh.")


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = setting("afterword.db", "SQLite database file.", path=True)
    busy_timeout_ms: int = setting(5000, "How long a writer waits for a lock before failing.")


@dataclass(frozen=True)
class IntakeConfig:
    host: str = setting("127.0.0.1", "Address `afterword serve` listens on.")
    port: int = setting(8000, "Port `afterword serve` listens on.", maximum=65535)
    public_url: str = setting(
        "",
        "URL visitors post to (the form's action), e.g. https://comments.example.com. "
        "Empty: http://HOST:PORT.",
    )
    trusted_proxies: list[str] = setting(
        [], "Proxy addresses/networks whose X-Forwarded-For is believed, e.g. ['127.0.0.1']."
    )
    max_request_bytes: int = setting(65536, "Largest request body accepted, before parsing.")
    header_max_bytes: int = setting(
        16384,
        "Largest request line plus headers; a larger request gets 431 and is disconnected.",
        minimum=1024,
        maximum=1048576,
    )
    header_timeout_seconds: float = setting(
        10.0,
        "Time a client has to send a request's headers from its first byte (else 408).",
        minimum=0.1,
        maximum=3600,
    )
    body_timeout_seconds: float = setting(
        30.0,
        "Time a client has to send a request's body once its headers arrived (else 408).",
        minimum=0.1,
        maximum=3600,
    )
    keep_alive_seconds: int = setting(
        5,
        "An open connection with no request in progress is closed after this long.",
        minimum=1,
        maximum=3600,
    )
    max_connections: int = setting(
        1000,
        "Open connections per intake process; a request beyond them gets 503 at once.",
        minimum=2,
        maximum=100000,
    )
    shutdown_timeout_seconds: int = setting(
        10,
        "On SIGTERM or Ctrl-C, how long open requests may take to finish before being cut.",
        minimum=1,
        maximum=3600,
    )
    queue: str = setting(
        "sqlite",
        "Where accepted submissions go: 'sqlite' (this machine's database) or an SQS queue "
        "URL, from which `afterword pull` stores them (see docs/deploying.md).",
    )


@dataclass(frozen=True)
class LimitsConfig:
    body_max: int = setting(10000, "Longest comment body, in characters after trimming.")
    author_max: int = setting(100, "Longest author name.")
    website_max: int = setting(500, "Longest website URL.")
    per_minute: int = setting(
        5, "Accepted submissions per client address per minute (0: no limit)."
    )
    per_hour: int = setting(30, "Accepted submissions per client address per hour (0: no limit).")
    attempts_per_minute: int = setting(
        0,
        "Attempts (accepted or refused) per client address per minute. 0: four times "
        "per_minute (no limit when per_minute is 0); never below per_minute.",
    )
    duplicate_window_seconds: int = setting(
        600, "Same body, page and client within this window is a duplicate (409)."
    )
    edit_window_minutes: int = setting(
        15,
        "A commenter may edit or delete their own comment while it is pending and for this "
        "many minutes after it is published (0: only while pending).",
        maximum=10080,
    )
    edit_token_hours: int = setting(
        72,
        "The edit capability given with a submission stops working this many hours after it "
        "was posted, however long the comment waited for a moderator (0: edits are off).",
        maximum=8760,
    )


@dataclass(frozen=True)
class ModerationConfig:
    trusted: list[str] = setting(
        [], "E-mail addresses or @domains whose comments skip the queue, e.g. ['@example.com']."
    )
    auto_approve_after: int = setting(
        0, "Approve automatically once an e-mail has this many approved comments (0: never)."
    )
    max_links: int = setting(3, "Comments with more links than this always wait in the queue.")
    moderator: str = setting("", "Name written to the moderation log. Empty: the login name.")
    owner: str = setting(
        "", "Name the owner's replies are published under (`afterword reply`). Empty: site.title."
    )
    owner_website: str = setting("", "Website linked from the owner's replies (optional).")
    link_days: float = setting(
        7.0,
        "How long the approve/reject/spam/reply links in a notification stay valid, in days.",
        minimum=0.01,
        maximum=365,
    )


@dataclass(frozen=True)
class BuildConfig:
    output_dir: str = setting("output", "Folder the builder writes into.", path=True)
    templates_dir: str = setting(
        "", "Folder of templates that override the built-in ones.", path=True
    )
    page_size: int = setting(50, "Top-level threads per fragment part.", minimum=1)
    avatar: str = setting(
        "identicon",
        "Avatar style: none, identicon (made locally) or gravatar.",
        choices=("none", "identicon", "gravatar"),
    )
    close_after_days: int = setting(
        0, "Close threads this many days after their first comment (0: never).", maximum=36500
    )
    closed_pages: list[str] = setting([], "Page keys (globs) whose threads are closed.")
    feed_size: int = setting(50, "Entries in the site-wide comment feed.", minimum=1)


@dataclass(frozen=True)
class WatchConfig:
    settle_seconds: float = setting(1.0, "Quiet time after a change before rebuilding.")
    max_wait_seconds: float = setting(10.0, "Longest delay of a rebuild under constant change.")
    poll: bool = setting(False, "Poll instead of filesystem events (network filesystems).")


@dataclass(frozen=True)
class NotifyConfig:
    mode: str = setting(
        "off",
        "Tell moderators about new pending comments: each (one message per comment), "
        "digest (one every digest_minutes) or off.",
        choices=("each", "digest", "off"),
    )
    digest_minutes: int = setting(
        60, "In digest mode, the longest a new comment waits to be mailed.", minimum=1
    )
    moderators: list[str] = setting([], "Addresses that are mailed about new comments.")
    smtp_url: str = setting(
        "smtp://127.0.0.1:25",
        "Mail server: smtp://host:port, smtp+starttls://host:port or smtps://host:port. "
        "User and password come from AFTERWORD_SMTP_USER / AFTERWORD_SMTP_PASSWORD only.",
    )
    sender: str = setting(
        "", "From address of notification mails. Empty: afterword@<smtp host>.", key="from"
    )
    webhooks: list[str] = setting([], "URLs POSTed a signed JSON body for each new comment.")
    webhook_format: str = setting(
        "afterword",
        "Body of webhook calls: afterword (signed, versioned JSON), slack or discord (text).",
        choices=("afterword", "slack", "discord"),
    )
    webhook_secret_env: str = setting(
        "",
        "Environment variable holding the webhook signing key. Empty: a key derived from "
        "the per-site secret (printed by `afterword notify --webhook-key`).",
    )
    notify_spam: bool = setting(
        False, "Also notify about honeypot-caught and spam-flagged comments."
    )
    max_mails_per_hour: int = setting(
        20,
        "Flood guard: mails per hour; past it, what is queued is folded into one digest.",
        minimum=1,
    )
    max_attempts: int = setting(
        12,
        "Tries per message before it is given up as failed (backoff 30 s doubling).",
        minimum=1,
    )
    background: bool = setting(
        True,
        "`serve` and `watch` send notifications in a background thread. false: only "
        "`afterword notify` does (e.g. run by cron or as a service of its own).",
    )
    retry_seconds: float = setting(
        30.0,
        "Wait before retrying a failed notification; doubles per attempt, at most an hour.",
        minimum=0.01,
        maximum=3600,
    )
    timeout_seconds: float = setting(
        15.0, "Network timeout of one SMTP session or webhook call.", minimum=0.1, maximum=600
    )
    reply_mails: bool = setting(
        False,
        'Offer commenters a "Mail me replies" box (double opt-in; mails go through smtp_url).',
    )
    reply_mails_per_day: int = setting(
        10,
        "Reply mails per address in any 24 hours; more replies than that are folded into the "
        "day's last mail, or wait until the day frees up (nothing is dropped).",
        minimum=1,
        maximum=1000,
    )
    confirm_resend_hours: float = setting(
        24.0,
        "An unconfirmed address gets at most one confirmation mail in this many hours.",
        minimum=0.01,
        maximum=8760,
    )
    confirm_max: int = setting(
        3,
        "Confirmation mails an address that never confirms gets in all; then opt-ins are "
        "stored but mail it nothing.",
        minimum=1,
        maximum=100,
    )
    confirm_days: float = setting(
        7.0, "How long a confirmation link stays valid, in days.", minimum=0.01, maximum=365
    )


@dataclass(frozen=True)
class PrivacyConfig:
    erase_mode: str = setting(
        "anonymize",
        "What `afterword erase` does to a person's comments: anonymize (keep text) or delete.",
        choices=("anonymize", "delete"),
    )


@dataclass(frozen=True)
class TargetConfig:
    kind: str = setting("local", "Target kind: local or s3.", choices=("local", "s3"))
    path: str = setting("", "local: folder to mirror the output into.", path=True)
    bucket: str = setting("", "s3: bucket name.")
    prefix: str = setting("", "s3: key prefix, e.g. 'comments/'.")
    region: str = setting("", "s3: region (empty: boto3's default chain).")
    endpoint_url: str = setting("", "s3: endpoint of an S3-compatible store (R2, B2, MinIO).")
    cloudfront_distribution_id: str = setting("", "CloudFront distribution to invalidate.")
    purge_url: str = setting("", "Other CDNs: URL template POSTed per changed path ({path}).")
    max_workers: int = setting(8, "Parallel uploads.", minimum=1, maximum=256)
    invalidation_wildcard_over: int = setting(
        500, "Above this many changed paths, invalidate one wildcard for the prefix."
    )
    shared_max_age: int = setting(
        60, "s-maxage for fragments when the target has no CDN invalidation."
    )
    after: list[str] = setting(
        [],
        "Command run (no shell, in the config file's folder) after a rebuild or watch publish "
        "changed this target, e.g. ['hugo', '--minify'] for a folder inside a site's static/.",
    )
    after_timeout_seconds: float = setting(
        300.0,
        "The after command is killed (with its children) past this time.",
        minimum=1,
        maximum=86400,
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``root`` is the folder relative paths resolved against."""

    site: SiteConfig = field(default_factory=SiteConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    intake: IntakeConfig = field(default_factory=IntakeConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)
    root: Path = field(default_factory=Path.cwd)
    source: Path | None = None

    @property
    def database_path(self) -> Path:
        return Path(self.database.path)

    @property
    def output_dir(self) -> Path:
        return Path(self.build.output_dir)

    @property
    def intake_url(self) -> str:
        """Where the comment form posts: the public URL, else the local listener."""
        base = self.intake.public_url or f"http://{self.intake.host}:{self.intake.port}"
        return base.rstrip("/") + "/api/comments"

    @property
    def intake_base(self) -> str:
        """The intake's public origin and prefix, without a trailing slash."""
        base = self.intake.public_url or f"http://{self.intake.host}:{self.intake.port}"
        return base.rstrip("/")


SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in {"targets", "root", "source"}
}


def setting_key(fld: dataclasses.Field[Any]) -> str:
    """A setting's name in the file and the environment (usually its field's name)."""
    return str(fld.metadata.get("key") or fld.name)


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config beats $AFTERWORD_CONFIG beats ./afterword.toml."""
    chosen = explicit or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG_NAME
    return Path(chosen).expanduser().absolute()


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    required: bool = False,
) -> Config:
    """Read the config file (if present) and the environment into a validated ``Config``.

    A missing file is fine unless ``required``: every setting has a working default, which is
    what makes the quick start a single command.
    """
    config_path = resolve_config_path(path)
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{config_path}: cannot read: {exc.strerror}") from None
    elif required or path is not None:
        raise ConfigError(f"{config_path}: no such config file (create one with `afterword init`)")
    return build_config(data, env, root=config_path.parent, source=config_path)


def build_config(
    data: Mapping[str, Any], env: Mapping[str, str], *, root: Path, source: Path | None = None
) -> Config:
    where = str(source) if source else "config"
    unknown = set(data) - set(SECTIONS) - {"targets"}
    for name in sorted(unknown):
        raise ConfigError(f"{where}: unknown section [{name}]{_did_you_mean(name, SECTIONS)}")
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
        sections[name] = _build_section(cls, name, raw, env, root, where)
    targets = _build_targets(data.get("targets", {}), env, root, where)
    _check_queue(sections["intake"].queue, where)
    return Config(**sections, targets=targets, root=root, source=source)


def _check_queue(queue: str, where: str) -> None:
    if queue != "sqlite" and not _QUEUE_URL.fullmatch(queue):
        raise ConfigError(
            f"{where}: intake.queue must be 'sqlite' or an SQS queue URL such as "
            f"https://sqs.us-east-1.amazonaws.com/123456789012/comments (got {queue!r})"
        )


def _build_targets(
    raw: Any, env: Mapping[str, str], root: Path, where: str
) -> dict[str, TargetConfig]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [targets] must hold tables like [targets.site]")
    targets: dict[str, TargetConfig] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: targets.{name} must be a table")
        target = _build_section(TargetConfig, f"targets.{name}", table, env, root, where)
        if target.kind == "s3" and not target.bucket:
            raise ConfigError(f"{where}: targets.{name}.bucket is required for kind = 's3'")
        if target.kind == "local" and not target.path:
            raise ConfigError(f"{where}: targets.{name}.path is required for kind = 'local'")
        _check_after(target.after, f"{where}: targets.{name}.after")
        targets[name] = target
    return targets


def _check_after(argv: list[str], origin: str) -> None:
    """An after command is an argv list whose first item names a program (empty: none)."""
    if argv and not argv[0].strip():
        raise ConfigError(f"{origin} must start with a program name (got {argv!r})")
    if any("\0" in arg for arg in argv):
        raise ConfigError(f"{origin} must not contain NUL characters")


def _build_section(
    cls: type[T],
    section: str,
    raw: Mapping[str, Any],
    env: Mapping[str, str],
    root: Path,
    where: str,
) -> T:
    fields = {setting_key(f): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = {setting_key(f): typing.get_type_hints(cls)[f.name] for f in fields.values()}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {section}.{key}{_did_you_mean(key, fields)}")
    values: dict[str, Any] = {}
    for name, fld in fields.items():
        env_name = f"{ENV_PREFIX}{section.replace('.', '_')}_{name}".upper()
        if env_name in env:
            value = _from_env(env[env_name], hints[name], env_name)
            origin = env_name
        elif name in raw:
            value = raw[name]
            origin = f"{where}: {section}.{name}"
        else:
            continue
        value = _check_type(value, hints[name], origin)
        choices = fld.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{origin} must be one of {', '.join(choices)} (got {value!r})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{origin} must be a finite number (got {value})")
        if isinstance(value, int | float) and not isinstance(value, bool):
            _check_range(value, fld.metadata, origin)
        if fld.metadata.get("path") and value:
            value = str((root / Path(value).expanduser()).resolve())
        values[fld.name] = value
    for fld in fields.values():
        if fld.metadata.get("path") and fld.name not in values and fld.default:
            values[fld.name] = str((root / str(fld.default)).resolve())
    return cls(**values)


def _check_range(value: float, meta: Mapping[str, Any], origin: str) -> None:
    low, high = meta["min"], meta["max"]
    if value < low:
        raise ConfigError(
            f"{origin} must not be negative (got {value})"
            if low == 0
            else f"{origin} must be at least {low:g} (got {value})"
        )
    if high is not None and value > high:
        raise ConfigError(f"{origin} must be at most {high:g} (got {value})")


def _check_type(value: Any, hint: Any, origin: str) -> Any:
    expected = _type_name(hint)
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{origin} must be a list of strings (got {value!r})")
        return list(value)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{origin} must be {expected} (got {value!r})")
    return value


def _from_env(text: str, hint: Any, name: str) -> Any:
    """Environment values are strings; parse them the way a shell user would write them."""
    if typing.get_origin(hint) is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{name} must be true or false (got {text!r})")
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            raise ConfigError(f"{name} must be {_type_name(hint)} (got {text!r})") from None
    return text


def _type_name(hint: Any) -> str:
    if isinstance(hint, types.GenericAlias):
        return "a list of strings"
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(hint, "a string")


def _did_you_mean(name: str, known: Mapping[str, Any] | set[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
