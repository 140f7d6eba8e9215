"""The ``mammo`` command (also ``python -m mammo_lib``).

Each subcommand lives in the module that does the work; that module exposes
``configure_parser(parser)`` and ``run_command(args) -> int``. Only the chosen subcommand's module is
imported, so ``mammo --help`` and ``mammo verify`` stay fast and never import torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mammo_lib import __version__
from mammo_lib.errors import MammoError

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "reproduce": ("mammo_lib.run.pipeline", "run the numbered notebooks with papermill into a new run folder"),
    "verify": ("mammo_lib.data.cohort", "validate a data manifest and its findings table, or a cohort file"),
    "synth": ("mammo_lib.synth.cli", "generate the synthetic twin cohort or a training cohort"),
    "preprocess": ("mammo_lib.preprocess.cache", "preprocess one mammogram and print what was found"),
    "train": ("mammo_lib.training.on_cohort", "train the detection or classification model"),
    "analyze": ("mammo_lib.system.analyze", "run the system (detect, then classify) on exams: JSON, CSV, overlay, DICOM SR"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mammo",
        description="Reproducible companion to Li et al., Quant Imaging Med Surg 2023 (mass analysis on mammograms).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {name:<11} {text}" for name, (_, text) in COMMANDS.items()),
    )
    parser.add_argument("--version", action="version", version=f"mammo {__version__}")
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help", "--version"):
        top.parse_args(argv or ["--help"])
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        top.error(f"unknown command {name!r} (choose from {', '.join(COMMANDS)})")
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"mammo {name}", description=help_text)
    module.configure_parser(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run_command(args) or 0)
    except MammoError as exc:
        print(f"mammo {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mammo {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
