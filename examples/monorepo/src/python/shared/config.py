"""Settings read from a data file (the `:data` resources target), with optional overrides."""

import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def settings():
    with open(os.path.join(_HERE, "data", "settings.json")) as fh:
        found = json.load(fh)
    overrides = os.path.join(_HERE, "data", "overrides.json")
    if os.path.exists(overrides):
        with open(overrides) as fh:
            found.update(json.load(fh))
    return found


def currency():
    return settings()["currency"]
