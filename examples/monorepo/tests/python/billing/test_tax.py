from billing import tax


def test_tax(big_order):
    (price, qty), = big_order
    assert tax.tax(price * qty) == 250


def test_gross():
    assert tax.gross(100) == 125
