"""The `mlops` command, loaded lazily: one process builds only the area it runs.

Each area (``mlops/<area>/commands.py``, with ``register(app)``) declares the top-level
commands and groups it adds, each with its one-line help, in ``COMMANDS`` in its package
``__init__.py``; this file discovers the areas, so adding one never touches it.
``mlops CMD ...`` imports the package ``__init__`` files (docstrings and those tables),
then only the area that owns CMD, and has typer build only that area's commands. Typer
builds a command from its function's signature when the group is built: 50-80 ms of CPU
for the whole tree on a quiet machine (about 0.25 s on a busy one), which every ``mlops``
process used to pay (the Azure DevOps rehearsal
starts hundreds), and each area's commands.py imports the project's own light modules at
its top, which a process now pays for one area only. ``mlops --help`` and shell
completion list every command from the declarations without loading an area.
tests/mlops/test_cli.py fails if a declaration drifts from what ``register`` adds or the
help it renders from what the loaded areas render.

The composition root also wires the floor :mod:`mlops.aml_client` to the ado area's
emulated Azure, at import, whichever command runs: the ``mlops azure ...`` helpers that
``mlops ado run`` starts need it without loading the ado area's commands.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import pkgutil
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from taxi_fare.errors import TaxiFareError
from typer import _click  # typer vendors click (typer/_click); its Command is every entry
from typer._click.shell_completion import CompletionItem
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

import mlops
from mlops import aml_client
from mlops.errors import MlopsError

#: The settings every area's commands are built with (the ``mlops`` group's own).
_SETTINGS: dict[str, Any] = {"add_completion": False, "pretty_exceptions_enable": False}


def _declared() -> dict[str, tuple[str, str]]:
    """Top-level name -> (declaring area, its line in ``mlops --help``), in help order:
    areas by name, each area's names as its ``register`` adds them."""
    declared: dict[str, tuple[str, str]] = {}
    for info in sorted(pkgutil.iter_modules(mlops.__path__), key=lambda i: i.name):
        if not info.ispkg or importlib.util.find_spec(f"mlops.{info.name}.commands") is None:
            continue
        names = getattr(sys.modules[f"mlops.{info.name}"], "COMMANDS", None)
        if not isinstance(names, dict) or not names:
            raise RuntimeError(
                f"mlops/{info.name}/commands.py exists, so mlops/{info.name}/__init__.py must "
                "declare COMMANDS: {top-level name its register() adds: its one-line help}"
            )
        for name, text in names.items():
            if name in declared:
                raise RuntimeError(
                    f"mlops command {name!r} is declared by both {declared[name][0]} and "
                    f"{info.name}"
                )
            declared[name] = (info.name, text)
    return declared


#: Top-level name -> (area, one-line help), read once per process from the areas' COMMANDS.
DECLARED = _declared()
#: Top-level name -> the area that owns it.
OWNERS = {name: area for name, (area, _) in DECLARED.items()}


def area_commands(area: str) -> dict[str, _click.Command]:
    """Build one area's top-level commands and groups (imports ``mlops.<area>.commands``)."""
    scratch = typer.Typer(**_SETTINGS)
    importlib.import_module(f"mlops.{area}.commands").register(scratch)
    # get_group, not get_command: a one-command area would otherwise come back as that
    # command instead of a group holding it (typer.main.get_command).
    return dict(typer.main.get_group(scratch).commands)


class AreaCommands(MutableMapping[str, _click.Command]):
    """The ``mlops`` group's command table: lists every declared name, and builds an
    area's commands the first time one of its names is looked up.

    A mapping rather than overrides of ``get_command`` alone, because typer reads the
    table directly too (``TyperGroup.resolve_command`` suggests close names from its keys,
    and code that walks the tree reads ``group.commands``). While :attr:`listing` is set
    (help, completion), an area not built yet answers with a stand-in that carries only
    the declared name and help, so listing the commands loads no area.
    """

    def __init__(self, built: MutableMapping[str, _click.Command]):
        self._built = dict(built)
        self._declared = dict(DECLARED)
        self.listing = False

    def _names(self) -> list[str]:
        return [*self._declared, *(n for n in self._built if n not in self._declared)]

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self._built and name in self._declared:
            area, text = self._declared[name]
            if self.listing:
                return TyperCommand(name=name, help=text)
            loaded = area_commands(area)
            self._built.update({n: c for n, c in loaded.items() if n not in self._built})
        return self._built[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._declared and name not in self._built:
            raise KeyError(name)
        self._declared.pop(name, None)
        self._built.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._declared or name in self._built

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


class LazyGroup(TyperGroup):
    """The ``mlops`` group over :class:`AreaCommands` (typer builds it via ``cls=``)."""

    commands: AreaCommands

    def __init__(self, *, commands: Any = None, **attrs: Any) -> None:
        super().__init__(**attrs)
        # TyperGroup.__init__ stores a plain dict; the eager part (commands registered on
        # ``app`` itself, as tests do) goes beside the declared areas' names.
        self.commands = AreaCommands(commands or {})

    def list_commands(self, ctx: _click.Context) -> list[str]:
        # TyperGroup's reads .items(), which would build every area just to name them.
        return list(self.commands)

    @contextlib.contextmanager
    def _listing(self) -> Iterator[None]:
        self.commands.listing = True
        try:
            yield
        finally:
            self.commands.listing = False

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        with self._listing():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: _click.Context, incomplete: str) -> list[CompletionItem]:
        with self._listing():
            return super().shell_complete(ctx, incomplete)


app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    help="Local twin and Azure tooling for the taxi-fare MLOps template.",
    **_SETTINGS,
)


@app.callback()
def _group() -> None:
    # A callback makes typer build ``app`` as a group although nothing is registered on it
    # directly (typer.main.get_command); the commands come from AreaCommands.
    pass


def _emulated_client(**where: str | None) -> Any:
    """The ado area's emulated ``MLClient`` (the emulator loads when a helper asks for one)."""
    from mlops.ado.az.sdk import client  # the ado area: loaded only inside `mlops ado run`

    return client(**where)


# The floor never imports the ado area; the composition root plugs the emulator in
# (it answers only while MLOPS_AZURE_EMULATOR is set: mlops.aml_client._emulated).
aml_client.use_emulator(_emulated_client)


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
