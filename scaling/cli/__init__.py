"""The ``scaling`` command.

Each subcommand lives in its own module of this package with two functions:
``register(subparsers)`` adds its parser (cheap: no heavy imports at module level) and
``run(args) -> int`` does the work. Only the chosen subcommand's heavy imports are paid for,
so ``scaling plan`` starts fast.

Errors from bad input (:class:`scaling.errors.ScalingError`, pydantic validation errors, missing
files) are printed as one line ``scaling: error: ...`` with exit status 2, never a traceback.
Set ``SCALING_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings

from pydantic import ValidationError

from ..errors import ScalingError
from ..units import parse_number

# subcommand name -> module (relative to this package)
COMMANDS = {
    "plan": "plan",
    "laws": "laws",
    "flops": "flops",
    "fit": "fit",
    "sweep": "sweep",
    "plot": "plot",
    "report": "report",
    "suggest": "suggest",
    "grow": "grow",
    "compare": "compare",
    "data": "data",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser: every subcommand, or with ``only`` (a subcommand's name) that one alone,
    so that `scaling plan` imports the planner and not the fitter, the sweep runner or pandas."""
    parser = _Parser(
        prog="scaling", description="Compute-optimal scaling laws: plan, fit, sweep, plot and grow language models."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, modname in COMMANDS.items():
        if only is not None and name != only:
            continue
        try:
            mod = importlib.import_module(f"{__name__}.{modname}")
        except ModuleNotFoundError as exc:  # a subcommand whose module is not written yet
            if exc.name == f"{__name__}.{modname}":
                continue
            raise
        mod.register(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return f"{exc.title}: " + "; ".join(parts)
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename or exc}"
    return " ".join(str(exc).split()) or type(exc).__name__


# A negative number argparse reads as an option ("-1e21", "-7B": its own rule only knows -5 and -.5)
_NEGATIVE = re.compile(r"-(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[kKmMbBgGtTpP]?")
_ARGPARSE_NEGATIVE = re.compile(r"-\d+|-\d*\.\d+")


def _negative_number(argv: list[str]) -> str | None:
    """The one-line error for a negative number among the arguments, which argparse would report
    as "unrecognized arguments" or "expected one argument"; None when there is none."""
    cmd = next((a for a in argv if not a.startswith("-")), "")
    for i, tok in enumerate(argv):
        if tok == "--":
            break
        if _NEGATIVE.fullmatch(tok) and not _ARGPARSE_NEGATIVE.fullmatch(tok):
            prev = argv[i - 1] if i else ""
            if prev.startswith("--"):
                return f"scaling {cmd}: error: argument {prev}: {tok!r} is negative; it must be positive"
            what = "budgets (FLOPs)" if cmd == "plan" else "numbers"
            return f"scaling {cmd}: error: {tok!r} is negative; {what} must be positive"
    return None


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    # the subcommand, when the first argument names one (options before it, as in `scaling --help`,
    # and anything else get the whole parser, whose usage lists every subcommand)
    parser = build_parser(raw[0] if raw and raw[0] in COMMANDS else None)
    bad = _negative_number(raw)
    if bad:
        print(bad, file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"scaling: warning: {msg}\n"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("scaling: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        if os.environ.get("SCALING_DEBUG"):
            raise
        known = isinstance(exc, (ScalingError, ValidationError, FileNotFoundError, IsADirectoryError, PermissionError))
        prefix = "" if known else f"internal error ({type(exc).__name__}; rerun with SCALING_DEBUG=1 for details): "
        print(f"scaling {args.command}: error: {prefix}{_one_line(exc)}", file=sys.stderr)
        return 2 if known else 1


def number(what: str, *, allow_zero: bool = False):
    """An argparse ``type`` that parses 1e21, 70B, 1.4T and names the argument in its error."""

    def parse(text: str) -> float:
        try:
            return parse_number(text, what, allow_zero=allow_zero)
        except ScalingError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None

    parse.__name__ = what  # argparse shows "argument --x: invalid <name> value" otherwise
    return parse


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
