"""Exceptions as what the operator reads: one or two plain lines on stderr and an exit code,
with passwords and API keys taken out (also of `--debug` tracebacks).

Exit codes: 0 ok; 1 some documents dead-lettered, an export incomplete, dead letters left;
2 a configuration problem (settings, argument values, unreachable cluster, missing input or
index); 3 the run failed (anything unexpected: one line, `--debug` shows the traceback).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import quote

EXIT_OK, EXIT_DEAD_LETTERED, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3
EXIT_INCOMPLETE = 1  # export: the file does not hold every matching article
EXIT_LETTERS_LEFT = 1  # deadletter: some letters stay
MASK = "***"
SECRET_VARIABLES = ("ELASTICSEARCH_PASSWORD", "ELASTICSEARCH_API_KEY", "CEASEFIRE_API_KEY")
# scheme://user:password@ -- the password runs to the last "@" before a space, so one
# containing "@", ":" or "/" unencoded is hidden whole.
URL_CREDENTIALS = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<password>\S*)@")


class UserError(Exception):
    """A problem the operator can fix (exit 2): `str()` says what, `fix` how."""

    def __init__(self, message: str, fix: str | None = None, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.fix = fix
        self.code = code


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the password of every URL in it (`http://user:***@host`) and every
    occurrence of `secrets` (as given, as repr shows it, percent-encoded) replaced by ***."""
    text = URL_CREDENTIALS.sub(lambda m: f"{m['head']}{MASK}@", text)
    forms = {form for s in secrets if s
             for form in (s, repr(s)[1:-1], quote(s, safe="")) if form}
    for form in sorted(forms, key=len, reverse=True):
        mask = "" if form in MASK else MASK  # "*" or "**" as a secret: drop, don't re-mask
        for _ in range(1000):  # each round removes a secret character: it ends
            if form not in text:
                break
            text = text.replace(form, mask)
    return text


def secrets_from_env(env: dict[str, str] | None = None) -> list[str]:
    """The values that must never be printed: secret variables and the URL's password."""
    env = dict(os.environ if env is None else env)
    found = [env.get(name, "") for name in SECRET_VARIABLES]
    for url in env.get("ELASTICSEARCH_URL", "").split(","):
        # user:password@ up to the last "@", even when the URL is malformed (a space in it)
        if password := re.match(r"\s*[A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:(.*)@", url, re.S):
            found.append(password[1])
    return [s for s in found if s]


def _index_missing(exc: BaseException) -> str | None:
    """The index name when `exc` is Elasticsearch's index_not_found_exception."""
    if type(exc).__name__ != "NotFoundError":
        return None
    text = str(exc)
    if "index_not_found_exception" not in text:
        return None
    found = re.search(r"no such index \[([^\]]*)\]", text)
    return found[1] if found else "the index"


def _reason(exc: BaseException) -> str:
    """The root cause Elasticsearch gave for refusing a request, else the error's text."""
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        causes = error.get("root_cause") or [error]
        cause = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], dict) else error
        if cause.get("reason"):
            return f"{cause.get('type', 'error')}: {cause['reason']}"
    return str(exc)


def explain(exc: BaseException) -> tuple[int, str, str | None]:
    """(exit code, what went wrong, how to fix it or None) for an exception a command raised."""
    if isinstance(exc, UserError):
        return exc.code, str(exc), exc.fix
    from tasks.settings import ConfigError  # the command got this far: loaded already

    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, str(exc), None
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"LocalESError", "SetupError", "SourcesError", "ReindexError", "ExportError"}:
        return EXIT_CONFIG, str(exc), None
    if isinstance(exc, ValueError) and str(exc).startswith("Could not parse URL"):
        return (EXIT_CONFIG, f"ELASTICSEARCH_URL is not a URL: {exc}",
                "percent-encode special characters of the password (%40 for @, %20 for a space)")
    if (index := _index_missing(exc)) is not None:
        return (EXIT_CONFIG, f"index {index} does not exist",
                "run `ceasefire setup` (or ingest something) first, or check CEASEFIRE_INDEX_PREFIX")
    if "BadRequestError" in names and type(exc).__module__.startswith("elasticsearch"):
        return EXIT_CONFIG, f"Elasticsearch refused the request: {_reason(exc)}", None
    if names & {"ConnectionError", "ConnectionTimeout"} and \
            type(exc).__module__.startswith(("elastic_transport", "elasticsearch")):
        return (EXIT_CONFIG, f"Elasticsearch stopped answering: {type(exc).__name__}: {exc}",
                "check `ceasefire es status` or ELASTICSEARCH_URL, then try again")
    return EXIT_FAILED, f"the run failed: {type(exc).__name__}: {exc}", None
