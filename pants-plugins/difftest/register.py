"""Pants backend for difftest: aggregates the plugin's rules (no target types of its own).

Enable it with `backend_packages = [..., "difftest"]` (see docs/pants.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

# `./pants` installs networkx into Pants' venv (for the RuleRunner tests) and [GLOBAL].plugins
# resolves it again: networkx then meets its own entry points twice and warned on every run.
warnings.filterwarnings("ignore", "networkx backend defined more than once", RuntimeWarning)

from difftest import goals  # noqa: E402
from difftest import rules as difftest_rules  # noqa: E402
from difftest.subsystem import DifftestSubsystem  # noqa: E402


def rules() -> Iterable[Any]:
    return [
        *DifftestSubsystem.rules(),
        *difftest_rules.rules(),
        *goals.rules(),
    ]
