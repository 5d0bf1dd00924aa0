from shared import config


def test_currency():
    assert config.currency() == "EUR"


def test_tax_rate_override():
    assert config.settings()["tax_rate"] == 0.25
