"""The ``memxbar`` command line.

Every user error (bad YAML, unknown preset, unwritable output, ...) is printed as one line on
stderr with exit code 2; tracebacks are reserved for bugs. ``memxbar`` with no command prints
the help on stdout and exits 0 (asking what the tool does is not an error); ``--help`` ends
with the energy figures' definitions, the exit codes and where a run's checkpoint lives.
"""

from __future__ import annotations

import argparse
import sys

from .data import add_data_commands
from .files import add_files_commands
from .options import BadOption
from .presets import add_chips_commands, add_devices_commands
from .runs import add_compile_command, add_run_commands
from .sweeps import add_sweep_command

__all__ = ["main", "build_parser"]


EXIT_CODES = (
    "exit codes: 0 success, 2 bad input or OS error (one line on stderr), 130 interrupted "
    "(Ctrl-C / SIGTERM; resume with --resume); checkpoint: OUTPUT.ckpt beside the run file. "
    "memxbar with no command prints this help (exit 0)."
)


def _epilog() -> str:
    import textwrap

    from ..crossbar.energy_figures import figures_table

    return "\n".join(
        [
            "energy figures (compile estimates, run measures, report prints both):",
            figures_table(),
            "",
            *textwrap.wrap(EXIT_CODES, 78),
        ]
    )


class _Parser(argparse.ArgumentParser):
    """A parser whose usage errors keep the CLI's contract: one line on stderr, exit 2."""

    def error(self, message: str):
        self.exit(2, f"memxbar: error: {self.prog}: {' '.join(message.split())} (see --help)\n")


class _MainParser(_Parser):
    """The top-level parser; its epilog is built when help is printed, since the energy
    figures' definitions import the crossbar package (and JAX)."""

    def format_help(self) -> str:
        if self.epilog is None:
            self.epilog = _epilog()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _MainParser(
        prog="memxbar",
        description="Emulate, compile for and learn on PCM crossbar chips.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"memxbar {__version__}")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compile every program afresh: do not read or write the compilation cache "
        "($MEMXBAR_COMPILATION_CACHE, default $XDG_CACHE_HOME/memxbar/jax or "
        "~/.cache/memxbar/jax; 'off' there also turns it off)",
    )
    parser.set_defaults(func=lambda args: _print_help(parser))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    add_devices_commands(commands)
    add_chips_commands(commands)
    add_compile_command(commands)
    add_run_commands(commands)
    add_sweep_command(commands)
    add_data_commands(commands)
    add_files_commands(commands)
    return parser


def _one_line(err: Exception) -> str:
    """The message of a user error on one line; an OSError names its file first."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err)
    return " ".join(text.split())


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def main(argv: list[str] | None = None) -> int:
    # First, before JAX loads: Ctrl-C and SIGTERM only request a stop, which long work honours
    # at its next safe point (runtime/interrupt.py says why).
    from ..runtime import interrupt

    with interrupt.install():
        parser = build_parser()
        args = parser.parse_args(argv)
        try:
            for value in vars(args).values():
                if isinstance(value, BadOption):
                    raise ValueError(value.message)
            if args.no_cache:
                return args.func(args)
            # Before the command's first jitted call: JAX sets the cache up then.
            from ..runtime.compilation_cache import enable_compilation_cache, storable_checks

            if enable_compilation_cache() is None:
                return args.func(args)
            with storable_checks():
                return args.func(args)
        except (ValueError, OSError) as err:
            print(f"memxbar: error: {_one_line(err)}", file=sys.stderr)
            return 2
        except (KeyboardInterrupt, interrupt.RunInterrupted) as err:
            print(f"memxbar: interrupted: {err}".rstrip(": "), file=sys.stderr)
            return interrupt.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
