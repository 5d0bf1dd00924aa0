from shop.loader import load_prices


def test_prices_are_read_from_the_shipped_file():
    assert load_prices()["tea"] == 3.5
