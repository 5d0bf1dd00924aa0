from shared import mathutil


def test_add():
    assert mathutil.add(2, 3) == 5


def test_mul():
    assert mathutil.mul(2, 3) == 6


def test_clamp():
    assert mathutil.clamp(15, 0, 10) == 10
