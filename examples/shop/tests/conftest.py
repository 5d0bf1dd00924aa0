import pytest

from shop.catalog import Book


@pytest.fixture
def book():
    return Book("Dune", 10.0, stock=3)
