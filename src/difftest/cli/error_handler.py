"""The one place where errors become messages and exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

from difftest.errors import DifftestError

#: Exit codes of the ``difftest`` command.
EXIT_OK = 0
#: A DifftestError: bad input, a broken baseline, an unreachable remote. The message says why.
EXIT_ERROR = 1
#: The command line could not be parsed (argparse's own code).
EXIT_USAGE = 2
#: A bug in difftest: the traceback is printed.
EXIT_INTERNAL = 3
#: Interrupted with Ctrl-C.
EXIT_INTERRUPTED = 130


def run_guarded(command: Callable[[], int]) -> int:
    """Run ``command``; report any error on stderr and return the matching exit code."""
    try:
        return command()
    except DifftestError as exc:
        print(f"difftest: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("difftest: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`difftest inspect | head`): stop quietly, and keep Python from
        # failing again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as exc:
        # The file system said no (a path that is a file, a read-only or immutable target, a
        # full disk): the user's to fix, with what the system said and where.
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"difftest: error: {exc.strerror or exc}{where}. Check that the path is right and "
            "that its directory exists and is writable.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except Exception:
        print(
            "difftest: internal error (a bug in difftest; please report it with this output):",
            file=sys.stderr,
        )
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL
