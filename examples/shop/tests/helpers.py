def approx_equal(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9
