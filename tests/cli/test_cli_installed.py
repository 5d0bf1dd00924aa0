"""What an installed difftest provides beyond its modules.

Pants runs the tests from sources, with nothing installed: tests/cli/BUILD skips this file there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from difftest.cli.error_handler import EXIT_OK


def test_the_console_script_is_installed_beside_the_interpreter() -> None:
    script = Path(sys.executable).parent / "difftest"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert done.returncode == EXIT_OK
    assert done.stdout.startswith("difftest ")
