"""Reads the price list shipped with the package."""

from __future__ import annotations

import json
from pathlib import Path

PRICES = Path(__file__).parent / "data" / "prices.json"


def load_prices() -> dict[str, float]:
    return json.loads(PRICES.read_text())
