from shared import text


def test_slug():
    assert text.slug("Hello World") == "hello-world"


def test_title():
    assert text.title("hello world") == "Hello World"
