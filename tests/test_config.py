"""afterword.toml and AFTERWORD_* variables → Config, and every way that can go wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_afterword

from afterword.cli import main
from afterword.config import Config, load_config
from afterword.errors import ConfigError
from afterword.store import open_store


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "afterword.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, **env: str) -> Config:
    return load_config(path, environ=env)


def test_config_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.site.url == "http://127.0.0.1:8080"
    assert config.intake.port == 8000
    assert config.moderation.max_links == 3
    assert config.watch.poll is False
    assert config.targets == {}
    assert config.database_path == tmp_path / "afterword.db"
    assert config.output_dir == tmp_path / "output"
    assert config.intake_url == "http://127.0.0.1:8000/api/comments"


def test_config_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: no such config file"):
        load_config(tmp_path / "missing.toml", environ={})


def test_config_file_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [site]
        url = "https://blog.example.com"
        allowed_origins = ["https://www.example.com"]
        [intake]
        port = 9001
        public_url = "https://comments.example.com/"
        [watch]
        settle_seconds = 2
        poll = true
        [build]
        avatar = "none"
        """,
    )
    config = load(path)
    assert config.site.url == "https://blog.example.com"
    assert config.site.allowed_origins == ["https://www.example.com"]
    assert config.intake.port == 9001
    assert config.watch.settle_seconds == 2.0
    assert isinstance(config.watch.settle_seconds, float)
    assert config.watch.poll is True
    assert config.build.avatar == "none"
    assert config.intake_url == "https://comments.example.com/api/comments"
    assert config.source == path


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("AFTERWORD_INTAKE_PORT", "9100", ("intake", "port"), 9100),
        ("AFTERWORD_WATCH_SETTLE_SECONDS", "0.25", ("watch", "settle_seconds"), 0.25),
        ("AFTERWORD_WATCH_POLL", "yes", ("watch", "poll"), True),
        ("AFTERWORD_WATCH_POLL", "Off", ("watch", "poll"), False),
        ("AFTERWORD_WATCH_POLL", "1", ("watch", "poll"), True),
        (
            "AFTERWORD_SITE_ALLOWED_ORIGINS",
            "https://a.example, https://b.example,",
            ("site", "allowed_origins"),
            ["https://a.example", "https://b.example"],
        ),
        ("AFTERWORD_SITE_TITLE", "Über blog", ("site", "title"), "Über blog"),
        ("AFTERWORD_MODERATION_TRUSTED", "", ("moderation", "trusted"), []),
    ],
)
def test_config_env_overrides(
    tmp_path: Path, name: str, value: str, attribute: tuple[str, str], expected: object
) -> None:
    path = write(tmp_path, "[intake]\nport = 9000\n[watch]\npoll = true\n")
    config = load(path, **{name: value})
    assert getattr(getattr(config, attribute[0]), attribute[1]) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "AFTERWORD_INTAKE_PORT",
            "eighty",
            "AFTERWORD_INTAKE_PORT must be a whole number (got 'eighty')",
        ),
        ("AFTERWORD_INTAKE_PORT", "-5", "AFTERWORD_INTAKE_PORT must not be negative (got -5)"),
        (
            "AFTERWORD_WATCH_SETTLE_SECONDS",
            "soon",
            "AFTERWORD_WATCH_SETTLE_SECONDS must be a number",
        ),
        (
            "AFTERWORD_WATCH_POLL",
            "maybe",
            "AFTERWORD_WATCH_POLL must be true or false (got 'maybe')",
        ),
        (
            "AFTERWORD_BUILD_AVATAR",
            "robohash",
            "AFTERWORD_BUILD_AVATAR must be one of none, identicon, gravatar",
        ),
    ],
)
def test_config_bad_env_values(tmp_path: Path, name: str, value: str, message: str) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ConfigError) as caught:
        load(path, **{name: value})
    assert message in str(caught.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_config_float_must_be_finite(tmp_path: Path, value: str) -> None:
    """NaN passes ``value < 0`` and would make the watch loop's timers meaningless."""
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match="AFTERWORD_WATCH_SETTLE_SECONDS"):
        load(path, AFTERWORD_WATCH_SETTLE_SECONDS=value)


def test_config_relative_paths_resolve_against_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "site" / "conf"
    path = write(
        conf,
        '[database]\npath = "data/comments.db"\n'
        '[build]\noutput_dir = "../public/comments"\ntemplates_dir = "/abs/templates"\n'
        '[targets.mirror]\nkind = "local"\npath = "mirror"\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load(path)
    assert config.database_path == conf / "data" / "comments.db"
    assert config.output_dir == tmp_path / "site" / "public" / "comments"
    assert config.build.templates_dir == "/abs/templates"
    assert config.targets["mirror"].path == str(conf / "mirror")
    assert config.root == conf


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[database]\npth = "x.db"\n', "unknown key database.pth (did you mean 'path'?)"),
        ("[intake]\nprot = 80\n", "unknown key intake.prot (did you mean 'port'?)"),
        ("[intake]\nzzz = 80\n", "unknown key intake.zzz"),
        ("[databse]\n", "unknown section [databse] (did you mean 'database'?)"),
        ("[frobnicate]\n", "unknown section [frobnicate]"),
        ("site = 3\n", "[site] must be a table"),
        ('[intake]\nport = "80"\n', "intake.port must be a whole number (got '80')"),
        ("[intake]\nport = true\n", "intake.port must be a whole number (got True)"),
        ("[intake]\nport = 1.5\n", "intake.port must be a whole number (got 1.5)"),
        ('[watch]\npoll = "yes"\n', "watch.poll must be true or false (got 'yes')"),
        (
            '[site]\nallowed_origins = "https://a"\n',
            "site.allowed_origins must be a list of strings",
        ),
        ("[site]\nallowed_origins = [1]\n", "site.allowed_origins must be a list of strings"),
        ("[site]\nurl = 5\n", "site.url must be a string (got 5)"),
        ("[limits]\nper_minute = -1\n", "limits.per_minute must not be negative (got -1)"),
        ("[watch]\nsettle_seconds = -0.5\n", "watch.settle_seconds must not be negative"),
        (
            '[build]\navatar = "robohash"\n',
            "build.avatar must be one of none, identicon, gravatar (got 'robohash')",
        ),
        (
            '[privacy]\nerase_mode = "shred"\n',
            "privacy.erase_mode must be one of anonymize, delete",
        ),
        ("targets = 3\n", "[targets] must hold tables like [targets.site]"),
        ("[targets]\nsite = 1\n", "targets.site must be a table"),
        ('[targets.site]\nkind = "local"\n', "targets.site.path is required for kind = 'local'"),
        ("[targets.site]\n", "targets.site.path is required for kind = 'local'"),
        ('[targets.cdn]\nkind = "s3"\n', "targets.cdn.bucket is required for kind = 's3'"),
        ('[targets.cdn]\nkind = "ftp"\n', "targets.cdn.kind must be one of local, s3"),
        (
            '[targets.cdn]\nkind = "s3"\nbuckt = "b"\n',
            "unknown key targets.cdn.buckt (did you mean 'bucket'?)",
        ),
        (
            '[targets.cdn]\nkind = "s3"\nbucket = "b"\nmax_workers = -2\n',
            "targets.cdn.max_workers must be at least 1 (got -2)",
        ),
        ("[build]\npage_size = 0\n", "build.page_size must be at least 1 (got 0)"),
        ("[build]\nclose_after_days = 1000000\n", "build.close_after_days must be at most 36500"),
        ("[intake]\nport = 70000\n", "intake.port must be at most 65535 (got 70000)"),
        ("[site\nurl = 1\n", "not valid TOML"),
        ('[site]\nurl = "a"\nurl = "b"\n', "not valid TOML"),
    ],
)
def test_config_errors_name_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_config_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "afterword.toml"
    path.write_bytes(b'[site]\ntitle = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)


def test_config_targets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[targets.site]\npath = "out"\n'
        '[targets.cdn]\nkind = "s3"\nbucket = "comments"\nprefix = "c/"\n',
    )
    config = load(
        path, AFTERWORD_TARGETS_CDN_PREFIX="override/", AFTERWORD_TARGETS_CDN_MAX_WORKERS="2"
    )
    assert config.targets["site"].kind == "local"
    assert config.targets["site"].path == str(tmp_path / "out")
    cdn = config.targets["cdn"]
    assert (cdn.bucket, cdn.prefix, cdn.max_workers) == ("comments", "override/", 2)


def test_config_target_path_from_environment(tmp_path: Path) -> None:
    """An environment override satisfies a required setting just as the file would."""
    path = write(tmp_path, '[targets.site]\nkind = "local"\n')
    config = load(path, AFTERWORD_TARGETS_SITE_PATH="/srv/comments")
    assert config.targets["site"].path == "/srv/comments"


def test_config_env_beats_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[moderation]\nmoderator = "file"\nmax_links = 7\n')
    config = load(path, AFTERWORD_MODERATION_MODERATOR="env")
    assert (config.moderation.moderator, config.moderation.max_links) == ("env", 7)


# --- through the command line -------------------------------------------------------------

BAD = '[database]\npth = "x.db"\n'


def test_config_cli_error_is_one_line_exit_2(site_dir: Path) -> None:
    path = write(site_dir, BAD)
    result = CliRunner().invoke(main, ["queue"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"Error: {path}: unknown key database.pth (did you mean 'path'?)\n")


def test_config_cli_bad_env_value(site_dir: Path) -> None:
    result = CliRunner().invoke(main, ["queue"], env={"AFTERWORD_INTAKE_PORT": "x"})
    assert result.exit_code == 2
    assert result.stderr == "Error: AFTERWORD_INTAKE_PORT must be a whole number (got 'x')\n"


def test_config_cli_error_subprocess(site_dir: Path) -> None:
    path = write(site_dir, '[build]\navatar = "robohash"\n')
    done = run_afterword("migrate", cwd=site_dir)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr == (
        f"Error: {path}: build.avatar must be one of none, identicon, gravatar (got 'robohash')\n"
    )


def write_two_configs(root: Path) -> tuple[Path, Path]:
    """A good site with its database, a bad config; the cwd's own database is removed, so a
    command that read the wrong config would fail (commands refuse a missing database)."""
    good = write(root / "good", '[moderation]\nmoderator = "good"\n')
    open_store(good.parent / "afterword.db").close()
    (root / "afterword.db").unlink(missing_ok=True)
    bad = write(root / "bad", BAD)
    return good, bad


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{good}", "queue"],
        ["queue", "--config", "{good}"],
        ["--config", "{bad}", "queue", "--config", "{good}"],  # the nearer option wins
    ],
)
def test_config_option_before_and_after_subcommand(site_dir: Path, args: list[str]) -> None:
    good, bad = write_two_configs(site_dir)
    argv = [a.format(good=good, bad=bad) for a in args]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert (good.parent / "afterword.db").exists()
    assert not (site_dir / "afterword.db").exists()


@pytest.mark.parametrize("args", [["--config", "{bad}", "queue"], ["queue", "--config", "{bad}"]])
def test_config_option_bad_file_either_position(site_dir: Path, args: list[str]) -> None:
    good, bad = write_two_configs(site_dir)
    result = CliRunner().invoke(main, [a.format(good=good, bad=bad) for a in args])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bad}: unknown key database.pth")


def test_config_from_environment_variable(site_dir: Path) -> None:
    good, bad = write_two_configs(site_dir)
    result = CliRunner().invoke(main, ["queue"], env={"AFTERWORD_CONFIG": str(good)})
    assert result.exit_code == 0, result.output
    assert (good.parent / "afterword.db").exists()
    result = CliRunner().invoke(main, ["queue"], env={"AFTERWORD_CONFIG": str(bad)})
    assert result.exit_code == 2
    missing = site_dir / "nope.toml"
    result = CliRunner().invoke(main, ["queue"], env={"AFTERWORD_CONFIG": str(missing)})
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {missing}: no such config file (create one with `afterword init`)\n"
    )
