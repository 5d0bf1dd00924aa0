from shop.catalog import CATEGORIES, Book, Product


def test_categories_are_registered_at_import():
    assert set(CATEGORIES) == {"book", "ebook"}


def test_products_start_out_of_stock():
    assert Product("pen", 1.0).stock == 0


def test_the_book_fixture_is_paper(book):
    assert book.kind == "paper" and isinstance(book, Book)
