import pytest


@pytest.fixture
def lines():
    return [(10, 2), (5, 1)]


@pytest.fixture
def big_order():
    return [(100, 10)]
