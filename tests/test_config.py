"""config.toml is validated at load: one line per problem, naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import load_config
from digest.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value).splitlines()


def test_the_shipped_config_is_valid_and_reads_the_five_seeds():
    config = load_config(ROOT / "config.toml")
    assert [s.url for s in config.sources] == [f"seeds/{p.name}" for p in sorted((ROOT / "seeds").iterdir())]
    assert config.delivery.mode == "outbox"
    assert config.storage.path == "var/digest.sqlite3"
    assert config.db_path == ROOT / "var" / "digest.sqlite3"


def test_every_key_of_the_shipped_config_is_commented():
    uncommented = [
        line for line in (ROOT / "config.toml").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#") and "#" not in line
        and not line.strip().startswith(("name =", "url =", "email =", "first_name ="))
    ]
    assert uncommented == []


def test_a_wrong_type_names_the_file_the_table_and_the_value(tmp_path):
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.xml"\n[[sources]]\nname = "b"\nurl = "b.xml"\nweight = "high"\n')
    assert errors_of(path) == [f'{path}: [[sources]][2].weight: expected a number, got "high"']


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path):
    path = write(tmp_path, '[digest]\ntitel = "x"\n[smpt]\nport = 25\n')
    assert errors_of(path) == [
        f"{path}: [digest].titel: unknown key (did you mean 'title'?)",
        f"{path}: [smpt]: unknown section (did you mean 'smtp'?)",
    ]


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, '[digest]\nmax_stories = 0\ntimezone = "Mars/Olympus"\n[smtp]\nport = 70000\nsecurity = "ssl"\n')
    assert errors_of(path) == [
        f"{path}: [digest].timezone: unknown time zone 'Mars/Olympus'",
        f"{path}: [digest].max_stories: must be between 1 and 100, got 0",
        f"{path}: [smtp].port: must be between 1 and 65535, got 70000",
        f"{path}: [smtp].security: must be one of 'none', 'starttls', 'tls', got 'ssl'",
    ]


def test_required_keys_and_duplicate_source_names(tmp_path):
    path = write(tmp_path, '[[sources]]\nname = "a"\n[[sources]]\nname = "b"\nurl = "x"\n[[sources]]\nname = "b"\nurl = "y"\n')
    assert errors_of(path) == [
        f"{path}: [[sources]][1].url: is required",
        f"{path}: [[sources]][3].name: duplicate source name 'b'",
    ]


def test_nested_tables_are_named_with_their_path(tmp_path):
    path = write(tmp_path, '[render.sponsor]\nenabled = true\nname = "Acme"\nurl = "ftp://acme"\n')
    assert errors_of(path) == [f"{path}: [render.sponsor].url: expected an http(s) URL, got 'ftp://acme'"]


def test_broken_toml_is_one_line_with_the_position(tmp_path):
    path = write(tmp_path, '[digest]\ntitle = "unterminated\n')
    (line,) = errors_of(path)
    assert line.startswith(f"{path}: ") and "line 2" in line


def test_the_smtp_password_comes_from_the_named_environment_variable(tmp_path, monkeypatch):
    path = write(tmp_path, '[smtp]\npassword_env = "MY_RELAY_PASSWORD"\n')
    monkeypatch.setenv("MY_RELAY_PASSWORD", "s3cret")
    assert load_config(path).smtp.password == "s3cret"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    path = write(tmp_path, '[storage]\npath = "state/db.sqlite3"\n')
    assert load_config(path).db_path == tmp_path / "state" / "db.sqlite3"


def test_the_cli_prints_each_error_on_one_line_and_exits_2(tmp_path):
    path = write(tmp_path, '[digest]\nlookback_hours = "a day"\n')
    result = CliRunner().invoke(main, ["--config", str(path), "sources"])
    assert result.exit_code == 2
    assert result.output == f'Error: {path}: [digest].lookback_hours: expected a whole number, got "a day"\n'
    assert "Traceback" not in result.output


def test_a_missing_config_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.toml"), "sources"])
    assert result.exit_code == 2
    assert result.output == f"Error: {tmp_path / 'nope.toml'}: file not found\n"
