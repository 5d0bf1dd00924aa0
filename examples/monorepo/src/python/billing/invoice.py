from shared import config, mathutil


def total(lines):
    amount = 0
    for price, qty in lines:
        amount = mathutil.add(amount, mathutil.mul(price, qty))
    return amount


def discounted(amount, percent):
    return amount * (100 - mathutil.clamp(percent, 0, 50)) / 100


def label(amount):
    return f"{amount:.2f} {config.currency()}"
