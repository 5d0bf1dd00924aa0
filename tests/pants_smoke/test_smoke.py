"""Smoke test proving that `./pants test` runs pytest (it passes under plain pytest too)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def test_fraction_arithmetic_is_exact() -> None:
    assert sum(Fraction(1, n) for n in (2, 3, 6)) == 1


def test_binary_floats_round_where_decimals_do_not() -> None:
    assert 0.1 + 0.2 != 0.3
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")
