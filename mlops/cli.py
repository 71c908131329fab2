"""The `mlops` command.

Each area of the package (``mlops/<area>/commands.py``) exposes ``register(app)``
and is discovered here, so adding an area never touches this file. Command
modules import only typer at module level; heavy libraries load inside the
command that needs them, which keeps ``mlops --help`` fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import sys

import typer
from taxi_fare.errors import TaxiFareError
from typer.exceptions import TyperException

import mlops
from mlops.errors import MlopsError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Local twin and Azure tooling for the taxi-fare MLOps template.",
)


def _register_areas(target: typer.Typer) -> None:
    for info in sorted(pkgutil.iter_modules(mlops.__path__), key=lambda i: i.name):
        name = f"mlops.{info.name}.commands"
        if info.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(target)


_register_areas(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors a user can fix become one line on stderr and exit code 1."""

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        # Without standalone mode, click returns (not raises) the code of typer.Exit.
        code = app(args=argv, prog_name="mlops", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except (MlopsError, TaxiFareError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TyperException as exc:
        # Usage errors (typer vendors click, so this is not click.ClickException).
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
