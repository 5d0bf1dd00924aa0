"""``difftest``: inspect, explain, merge and share baselines.

Selection itself runs inside pytest (``pytest --diff``) and Pants; this command works on the
baseline they record. ``main(argv)`` parses the command line, runs one typed subcommand function
and turns every error into a message and an exit code (:mod:`difftest.cli.error_handler`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from difftest.cli._paths import baseline_path
from difftest.cli.download import download_command
from difftest.cli.error_handler import EXIT_OK, EXIT_USAGE, run_guarded
from difftest.cli.explain import explain_command
from difftest.cli.inspect import inspect_command
from difftest.cli.merge import merge_command
from difftest.cli.upload import upload_command
from difftest.config import DEFAULT_DB

_LOCATIONS = "local paths, file:///abs/path URLs or s3://bucket/key URLs"


def _add_location_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help=f"the local baseline file (default: {DEFAULT_DB} under --root)",
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="the project root that recorded paths are relative to (default: the current directory)",
    )


def build_parser() -> argparse.ArgumentParser:
    from difftest import __version__

    parser = argparse.ArgumentParser(
        prog="difftest",
        description=(
            "Inspect, explain, merge and share difftest baselines. Test selection itself runs "
            "in pytest (`pytest --diff`) and Pants."
        ),
    )
    parser.add_argument("--version", action="version", version=f"difftest {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    merge = commands.add_parser(
        "merge",
        help="merge baselines (e.g. of parallel CI jobs) into one",
        description=(
            "Merge baselines into OUTPUT: for each test a failed record wins over a passed one "
            "(it runs until a run records it passing), otherwise the newest; run-time import "
            f"edges are combined. OUTPUT and INPUTs are {_LOCATIONS}. A directory, or a URL "
            "ending in '/', stands for every .db file directly inside it. A remote OUTPUT is "
            "uploaded once the merge succeeded; a local one is replaced atomically."
        ),
    )
    merge.add_argument("output", metavar="OUTPUT", help="where to write the merged baseline")
    merge.add_argument("inputs", metavar="INPUT", nargs="+", help="baselines to merge")

    inspect = commands.add_parser(
        "inspect",
        help="show what a baseline holds",
        description=(
            "Without options: a summary (tests, files, outcomes, format version, dates, commit). "
            "With --test: the files and blocks one test depends on. With --file: the tests that "
            "depend on one file, and on which of its blocks."
        ),
    )
    inspect.add_argument(
        "db",
        metavar="DB",
        nargs="?",
        help=f"the baseline file (default: {DEFAULT_DB} under --root)",
    )
    which = inspect.add_mutually_exclusive_group()
    which.add_argument("--test", metavar="NODEID", help="show the dependencies of this test")
    which.add_argument(
        "--file", metavar="PATH", help="show the tests depending on this file (root-relative)"
    )
    inspect.add_argument(
        "--root",
        metavar="DIR",
        help="the project root, for the default DB and absolute --file paths (default: cwd)",
    )
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")

    explain = commands.add_parser(
        "explain",
        help="say why a test would or would not be selected now",
        description=(
            "Compare what NODEID last ran against with the files under --root now, as "
            "`pytest --diff` would, and print the reasons it would run, or why it would not."
        ),
    )
    explain.add_argument("nodeid", metavar="NODEID", help="a pytest node id, as recorded")
    _add_location_options(explain)

    download = commands.add_parser(
        "download",
        help="fetch a shared baseline",
        description=(
            f"Download the baseline at URL ({_LOCATIONS}) to the local baseline file. The copy "
            "is checked before it replaces the local file; an s3:// object that has not "
            "changed since the last download (same ETag) is not fetched again."
        ),
    )
    download.add_argument("url", metavar="URL", help="where the shared baseline is")
    _add_location_options(download)
    download.add_argument(
        "--missing-ok",
        action="store_true",
        help="succeed when there is no baseline at URL yet (default: that is an error)",
    )

    upload = commands.add_parser(
        "upload",
        help="publish the local baseline",
        description=(
            f"Upload a consistent snapshot of the local baseline to URL ({_LOCATIONS}). "
            "Readers never see a partial file."
        ),
    )
    upload.add_argument("url", metavar="URL", help="where to publish the baseline")
    _add_location_options(upload)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "merge":
        return merge_command(args.output, args.inputs)
    root = Path(args.root or ".")
    if args.command == "inspect":
        return inspect_command(
            baseline_path(args.db, args.root),
            test=args.test,
            file=args.file,
            root=root,
            as_json=args.json,
        )
    if args.command == "explain":
        return explain_command(args.nodeid, baseline_path(args.db, args.root), root)
    if args.command == "download":
        return download_command(
            args.url, baseline_path(args.db, args.root), missing_ok=args.missing_ok
        )
    if args.command == "upload":
        return upload_command(args.url, baseline_path(args.db, args.root))
    raise AssertionError(f"unhandled command {args.command!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``difftest`` command; returns the exit code (see error_handler)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return (
            exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
        )
    return run_guarded(lambda: _dispatch(args))
