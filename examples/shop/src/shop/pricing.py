"""Prices and taxes."""

TAX_RATE = 0.20


def with_tax(amount: float) -> float:
    return round(amount * (1 + TAX_RATE), 2)


def discount(amount: float, percent: int) -> float:
    return round(amount * (100 - percent) / 100, 2)
