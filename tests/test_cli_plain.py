"""The command line speaks plainly: every user error is one or two lines on stderr with the
right exit code and no traceback, secrets never show, help answers at once with examples,
data is never read as markup, and piped tables are not cut."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ceasefire.cli import app, main
from ceasefire.cli.errors import redact, secrets_from_env

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "hunter2-Sekr3t"
LONG_QUERY = " ".join(f"word{i}" for i in range(2_000))


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceasefire.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, check=False, cwd=ROOT)


def _plain(result: subprocess.CompletedProcess, code: int, says: str, secret: str = PASSWORD) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, result.stderr
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert secret not in result.stderr + result.stdout
    assert says in result.stderr, result.stderr


# (arguments, extra environment, exit code, a phrase the message must hold); no cluster needed
OFFLINE = [
    (["search", "x"], {"ELASTICSEARCH_URL": f"http://etl:{PASSWORD}@127.0.0.1:1"}, 2, "no Elasticsearch at"),
    (["ingest", "examples"], {"ELASTICSEARCH_URL": f"http://etl:{PASSWORD}@127.0.0.1:1"}, 2, "no Elasticsearch at"),
    (["search", "x", "--size", "-1"], {}, 2, "--size -1 is outside 0..10000"),
    (["search", "x", "--size", "20000"], {}, 2, "--size 20000 is outside 0..10000"),
    (["search", LONG_QUERY], {}, 2, "at most 10000 characters and 352 words (1000 with --language"),
    (["search", LONG_QUERY, "--language", "fr"], {}, 2, "at most 10000 characters and 1000 words,"),
    (["search", "x", "--from", "2025-13-45"], {}, 2, "is not a date"),
    (["search", "x", "--from", "yesterday"], {}, 2, "is not a date"),
    (["search", "x", "--to", "99999-01-01"], {}, 2, "is not a date"),
    (["search", "x", "--source", "s" * 40_000], {}, 2, "at most 1000 characters"),
    (["search", "x"], {"ELASTICSEARCH_TIMEOUT": "30s"}, 2, "ELASTICSEARCH_TIMEOUT='30s'"),
    (["search", "x"], {"CEASEFIRE_ES_PORT": "abc"}, 2, "CEASEFIRE_ES_PORT='abc'"),
    (["search", "x"], {"ELASTICSEARCH_URL": f"http://etl:{PASSWORD} x@[::1"}, 2, "ELASTICSEARCH_URL"),
    (["search", "x"], {"ELASTICSEARCH_URL": "http://127.0.0.1:1", "ELASTICSEARCH_PASSWORD": PASSWORD},
     2, "no Elasticsearch at"),
    (["ingest", "/nonexistent"], {}, 2, "input not found: /nonexistent"),
    (["backfill", "/nonexistent"], {}, 2, "input not found: /nonexistent"),
    (["timeline", "x", "--interval", "fortnight"], {}, 2, "choose one of: day, week, month"),
    (["search", "x", "--bogus"], {}, 2, "No such option: --bogus"),
]


@pytest.mark.parametrize("args, env, code, says", OFFLINE, ids=[
    f"{a[0]}-{i}" for i, (a, *_) in enumerate(OFFLINE)])
def test_user_errors_are_plain_lines(args, env, code, says):
    _plain(_cli(*args, env=env), code, says)


def test_checks_come_before_the_slow_imports():
    result = _cli("ingest", "/nonexistent", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 2
    imported = result.stderr
    assert "prefect" not in imported and "elasticsearch" not in imported


def test_usage_errors_name_the_subcommand():
    result = _cli("search", "x", "--bogus")
    assert "usage: ceasefire search" in result.stderr and "ceasefire search --help" in result.stderr


def test_search_before_setup_says_to_set_up(base_settings):
    result = _cli("search", "x", env={"CEASEFIRE_INDEX_PREFIX": "nosuch"})
    _plain(result, 2, "does not exist")
    assert "ceasefire setup" in result.stderr


def test_rollback_to_a_missing_index_lists_the_candidates(ready_es, settings):
    result = _cli("reindex", "--rollback", "nope")
    _plain(result, 2, "index nope does not exist")
    assert f"{settings.index_prefix}-articles-v1" in result.stderr


def test_user_data_is_never_markup():
    result = _cli("search", "x", env={"CEASEFIRE_INDEX_PREFIX": "AB"})
    _plain(result, 2, "^[a-z0-9][a-z0-9_-]*$")


def test_debug_shows_the_traceback_without_secrets():
    env = {"ELASTICSEARCH_URL": f"http://etl:{PASSWORD}@127.0.0.1:1", "ELASTICSEARCH_API_KEY": "k3y-" + PASSWORD}
    result = _cli("--debug", "search", "x", env=env)
    assert result.returncode == 2 and "Traceback" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: ")


def _commands(group, prefix=()):
    import typer.main

    command = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, sub in command.commands.items():
        if hasattr(sub, "commands"):
            yield from _commands(sub, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = sorted(_commands(app))


def test_every_command_is_there():
    assert set(COMMANDS) >= {("es",), ("setup",), ("ingest",), ("run",), ("backfill",), ("reindex",),
                             ("sources",), ("search",), ("facets",), ("export",), ("timeline",),
                             ("report",), ("serve",), ("demo",), ("deadletter", "list"),
                             ("deadletter", "show"), ("deadletter", "replay")}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(command, capsys):
    assert main([*command, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "Examples:" in shown and f"ceasefire {' '.join(command)}" in shown


@pytest.mark.parametrize("command", [("ingest",), ("run",), ("backfill",), ("reindex",)], ids=" ".join)
def test_pipeline_commands_take_prefect(command, capsys):
    assert main([*command, "--help"]) == 0
    assert "--no-prefect" in capsys.readouterr().out


def test_help_and_argument_errors_import_nothing_heavy():
    """How they answer at once (measured: benchmarks/cli_bench.py): no client, no Prefect,
    no settings are imported before the arguments are parsed."""
    for args in (["--help"], ["search", "--help"], ["search", "x", "--bogus"]):
        result = _cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert result.returncode in (0, 2)
        for heavy in ("elasticsearch", "prefect", "tasks.settings", "pydantic_settings",
                      "ceasefire.search", "spacy"):
            assert f" {heavy}\n" not in result.stderr, (args, heavy)


def test_version():
    from importlib.metadata import version

    result = _cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"ceasefire-etl {version('ceasefire-etl')}"


def test_no_arguments_shows_help():
    result = _cli()
    assert "Usage" in result.stdout + result.stderr and "search" in result.stdout + result.stderr


def test_piped_tables_are_not_cut(tmp_path):
    url = "https://news.example.org/" + "/".join(f"section-{i}" for i in range(30)) + "/feed.xml"
    listed = tmp_path / "sources[1].yaml"
    listed.write_text(f"sources:\n  - name: long\n    kind: feed\n    url: {url}\n", encoding="utf-8")
    result = _cli("sources", "check", "--sources", str(listed))
    assert result.returncode == 0, result.stderr
    assert url in result.stdout
    assert f"{listed}: 1 source" in result.stdout  # singular, and [1] printed as it is


def test_light_choices_match_the_modules():
    from ceasefire.cli import research
    from ceasefire.query import DATE_FIELDS
    from ceasefire.timeline import INTERVALS, SPLITS

    assert tuple(INTERVALS) == research.INTERVALS
    assert tuple(SPLITS) == research.SPLITS
    assert research.DATE_FIELDS == DATE_FIELDS


def test_plural():
    from tasks.report import plural

    assert plural(1, "article") == "1 article" and plural(2, "article") == "2 articles"
    assert plural(1, "distinct story", "distinct stories") == "1 distinct story"
    assert plural(0, "chart") == "0 charts"


def test_many_values_after_one_flag_still_work():
    from ceasefire.cli.app import _spread

    assert _spread(["backfill", "--warc", "a", "b", "--json"]) == ["backfill", "--warc", "a", "--warc", "b",
                                                                  "--json"]
    assert _spread(["deadletter", "replay", "--id", "x", "y"]) == ["deadletter", "replay", "--id", "x",
                                                                  "--id", "y"]
    assert _spread(["search", "--warc", "a", "b"]) == ["search", "--warc", "a", "b"]


# --- redaction ---------------------------------------------------------------------------

PRINTABLE = st.characters(min_codepoint=33, max_codepoint=126)


@given(st.text(PRINTABLE, min_size=1, max_size=40))
def test_url_passwords_never_show(password):
    url = f"http://etl:{password}@es.example:9200"
    said = redact(f"error: no Elasticsearch at {url} (ConnectionError)")
    assert said == "error: no Elasticsearch at http://etl:***@es.example:9200 (ConnectionError)"
    encoded = redact(f"at http://etl:{quote(password, safe='')}@es.example:9200/x, retrying")
    assert encoded == "at http://etl:***@es.example:9200/x, retrying"


@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40))
def test_secret_values_never_show(secret):
    template = "error: connecting with {} to http://es.example:9200 failed ({!r})"
    assume(secret not in template.format("***", "***"))
    said = redact(template.format(secret, secret), [secret])
    assert secret not in said


def test_secrets_come_from_the_environment():
    env = {"ELASTICSEARCH_URL": "http://u:p w@d@host:9200", "ELASTICSEARCH_PASSWORD": "pw1",
           "CEASEFIRE_API_KEY": "key2"}
    assert set(secrets_from_env(env)) == {"p w@d", "pw1", "key2"}
