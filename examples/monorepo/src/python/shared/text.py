"""Text helpers (they use six, the repository's third-party requirement)."""

import six


def slug(text):
    return "-".join(six.ensure_str(text).lower().split())


def title(text):
    return six.ensure_str(text).title()
