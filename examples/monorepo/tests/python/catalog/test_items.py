from catalog import items


def test_item_id():
    assert items.item_id("Blue Mug") == "blue-mug"


def test_display_name():
    assert items.display_name("blue mug") == "Blue Mug"


def test_plain():
    assert "mug".upper() == "MUG"
