"""Pants backend for difftest: aggregates the plugin's rules (no target types of its own).

Enable it with `backend_packages = [..., "difftest"]` (see docs/pants.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from difftest import goals
from difftest import rules as difftest_rules
from difftest.subsystem import DifftestSubsystem


def rules() -> Iterable[Any]:
    return [
        *DifftestSubsystem.rules(),
        *difftest_rules.rules(),
        *goals.rules(),
    ]
