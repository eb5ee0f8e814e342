"""How `bigmodel` writes its help and click's usage errors: plain text, as well-kept CLIs do.

Typer's plain formatter writes `{config}` in usage lines, `<list[str]>` after names and cuts
command summaries with "..."; the classes here write `CONFIG`, `INPUT...`, a metavar for every
value, each command's whole one-line summary, and its examples last. They import nothing beyond
typer itself, which parsing loads anyway: `bigmodel --help` stays fast (no Rich help formatter).
"""

from __future__ import annotations

import inspect
import re
from enum import Enum

import typer
from typer._click import ClickException  # typer (>= 0.29) carries its own copy of click
from typer.core import TyperArgument, TyperCommand, TyperGroup


def choices(enum: type[Enum]) -> str:
    """The metavar of a choice option: its values, e.g. [table|jsonl|csv]."""
    return "[" + "|".join(str(member.value) for member in enum) + "]"


def _name_values(params) -> None:
    """Give every value a metavar named after it (RUN_DIR), where none was chosen by hand."""
    for param in params:
        if param.metavar is None and not getattr(param, "is_flag", False):
            param.metavar = param.name.upper()


def _argument_name(argument: TyperArgument, in_usage: bool) -> str:
    name = argument.metavar + ("..." if argument.nargs != 1 else "")
    return f"[{name}]" if in_usage and not argument.required else name


class _PlainHelp:
    """What commands and groups share: whole summaries, an Examples section, errors that know
    their command."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except ClickException as error:
            # click's parser raises some (an option without its value) without the command.
            if getattr(error, "ctx", False) is None:
                error.ctx = ctx
            raise

    def get_short_help_str(self, limit: int = 45) -> str:
        # The first paragraph of the help, never cut: each is written to fit on one line.
        text = inspect.cleandoc(self.short_help or self.help or "")
        return " ".join(text.split("\n\n")[0].split())

    def format_epilog(self, ctx, formatter) -> None:
        # The epilog holds examples, one command per line: written as they are, not rewrapped.
        if self.epilog:
            with formatter.section("Examples"):
                for line in inspect.cleandoc(self.epilog).splitlines():
                    formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


class Command(_PlainHelp, TyperCommand):
    """A command whose usage line reads `bigmodel predict [OPTIONS] RUN_DIR INPUT...`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _name_values(self.params)

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [_argument_name(param, in_usage=True) for param in self.get_params(ctx)
                         if isinstance(param, TyperArgument)]

    def format_options(self, ctx, formatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                if not param.hidden:  # the usage line already says it is required
                    arguments.append((_argument_name(param, in_usage=False), param.help or ""))
            elif (record := param.get_help_record(ctx)) is not None:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class Group(_PlainHelp, TyperGroup):
    """A command group; called bare, it prints its help on stdout and succeeds."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _name_values(self.params)

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            print(ctx.get_help())  # help asked for by calling bare: on stdout, exit 0
            ctx.exit(0)
        return super().parse_args(ctx, args)


class Commands(typer.Typer):
    """A Typer app whose commands and groups are the classes above.

    Plain help (rich_markup_mode=None): typer's rich help formatter costs ~55 ms of imports, a
    quarter of `bigmodel --help` (target: under 0.3 s, README "Performance").
    """

    def __init__(self, **settings):
        super().__init__(cls=Group, no_args_is_help=True, rich_markup_mode=None, **settings)

    def command(self, *args, **kwargs):
        return super().command(*args, cls=Command, **kwargs)


def error_line(error: ClickException) -> str:
    """click's usage error as one line in bigmodel's style, with where to read the help."""
    message = " ".join(error.format_message().split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    message = message.replace(". Did you mean", "; did you mean")
    # typer words a bad value as pydantic does: "Value error, 'x' is not ...", "Input should".
    message = re.sub(r"(': )([A-Z])(?=[a-z])", lambda match: match[1] + match[2].lower(),
                     message.replace(": Value error, ", ": "))
    context = getattr(error, "ctx", None)
    if context is not None:
        message += f" (see '{context.command_path} --help')"
    return message
