from helpers import approx_equal

from shop.pricing import discount, with_tax


def test_with_tax_adds_the_tax_rate():
    assert approx_equal(with_tax(10.0), 12.0)


def test_discount_takes_a_percentage_off():
    assert discount(10.0, 25) == 7.5
