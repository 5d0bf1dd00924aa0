"""Small arithmetic helpers shared by every package."""


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def clamp(value, low, high):
    return max(low, min(high, value))
