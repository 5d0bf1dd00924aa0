from billing import invoice


def test_total(lines):
    assert invoice.total(lines) == 25


def test_discounted():
    assert invoice.discounted(200, 10) == 180


def test_discount_is_capped():
    assert invoice.discounted(100, 90) == 50


def test_label():
    assert invoice.label(3) == "3.00 EUR"
