"""The `ceasefire` application: global options, the commands, and `main`, which turns every
outcome into an exit code (see `ceasefire.cli.errors`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer._click import exceptions as click_errors  # typer vendors click

from ceasefire.cli import deadletter, ops, research
from ceasefire.cli.common import pyarrow_blocked
from ceasefire.cli.errors import EXIT_CONFIG, EXIT_FAILED, explain, redact, secrets_from_env

DISTRIBUTION = "ceasefire-etl"
STATE = {"verbose": False, "debug": False}

app = typer.Typer(
    name="ceasefire",
    help="Ceasefire news in Elasticsearch: run the pipeline (ops) and search, count and "
         "export what it indexed (researchers).",
    epilog="Exit codes: 0 ok; 1 some documents dead-lettered, an export incomplete or dead "
           "letters left; 2 a configuration problem (settings, arguments, no cluster, missing "
           "input or index); 3 the run failed (--debug shows the traceback).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(DISTRIBUTION)
        except PackageNotFoundError:
            found = "unknown (not installed)"
        print(f"{DISTRIBUTION} {found}")
        raise typer.Exit()


@app.callback()
def options(
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="debug logging")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """Ceasefire news in Elasticsearch: ops run the pipeline, researchers search it."""
    STATE.update(verbose=verbose, debug=debug)
    # A flow run's environment (temporary server, log levels): ceasefire.running.
    # What a run did is printed at its end (a line per stage, the summary): the log says only
    # what went wrong, unless -v asks for everything.
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The client logs each failed attempt with a traceback; what failed is said once, plainly.
    logging.getLogger("elastic_transport").setLevel(logging.DEBUG if verbose else logging.ERROR)


ops.register(app)
research.register(app)
app.add_typer(deadletter.app, name="deadletter",
              short_help="Inspect documents Elasticsearch rejected, and send them again after a fix.")
ops.register_demo(app)

# argparse took `--warc A B` and `--id X Y`: still do, as `--warc A --warc B`.
_MANY = {"backfill": "--warc", "deadletter": "--id"}


def _spread(argv: list[str]) -> list[str]:
    flag = next((f for cmd, f in _MANY.items() if cmd in argv), None)
    if flag is None or flag not in argv:
        return argv
    spread: list[str] = []
    state = 0  # 0: not after the flag; 1: just after it; 2: after its first value
    for arg in argv:
        if arg == flag:
            state = 1
        elif arg.startswith("-"):
            state = 0
        elif state == 1:
            state = 2
        elif state == 2:
            spread.append(flag)
        spread.append(arg)
    return spread


def _usage_error(exc: click_errors.UsageError) -> int:
    """A usage error in two lines: what, and the usage of the command it concerns."""
    from ceasefire.cli.output import error_lines

    usage = None
    if exc.ctx is not None:
        usage = exc.ctx.get_usage().replace("Usage: ", "", 1).strip()
        usage = f"usage: {usage}  (more: {exc.ctx.command_path} --help)"
    error_lines(exc.format_message(), usage)
    return exc.exit_code


def _light_flags() -> None:
    """Typer coerces a flag nobody gave (None, e.g. the group's --help) with a pydantic
    adapter: importing pydantic for that costs a sixth of a second of every `--help`. A flag
    yields a bool or None, which a pass-through coercion takes as it is (typer 0.29
    internals; with another typer, nothing changes)."""
    try:
        from typer._coercion import PassThroughRuntimeParam
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = _TyperParameter.get_runtime_param
    if getattr(original, "light_flags", False):
        return

    def get_runtime_param(self: Any) -> Any:
        descriptor = self.type_descriptor
        if self._runtime_param is None and descriptor.annotation is bool:
            self._runtime_param = PassThroughRuntimeParam(
                annotation=bool, parameter_info=descriptor.parameter_info)
        return original(self)

    get_runtime_param.light_flags = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    """Run `ceasefire` with `argv` (default: the process's arguments); the exit code."""
    args = _spread(list(sys.argv[1:] if argv is None else argv))
    command = typer.main.get_command(app)
    _light_flags()
    STATE.update(verbose=False, debug=False)
    try:
        with pyarrow_blocked():
            code = command.main(args=args, prog_name="ceasefire", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:  # `ceasefire` alone: its help, exit 2
        exc.show()
        return exc.exit_code
    except click_errors.UsageError as exc:
        return _usage_error(exc)
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # rich on a closed pipe (`ceasefire --help | head`)
        return exc.code if isinstance(exc.code, int) else 1
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        return 130
    except click_errors.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Exception as exc:  # what the operator reads: one or two lines
        return _report(exc)
    return code if isinstance(code, int) else 0


def _report(exc: Exception) -> int:
    import traceback

    from ceasefire.cli.output import err, error_lines

    secrets = secrets_from_env()
    try:
        code, what, fix = explain(exc)
    except Exception:
        code, what, fix = EXIT_FAILED, f"the run failed: {type(exc).__name__}: {exc}", None
    if STATE["debug"]:
        from rich.text import Text

        trace = "".join(traceback.format_exception(exc))
        err().print(Text(redact(trace, secrets)), end="")
    error_lines(redact(what, secrets), redact(fix, secrets) if fix else None)
    return code if code else EXIT_CONFIG
