from shared.text import slug, title


def item_id(name):
    return slug(name)


def display_name(name):
    return title(name)
