from shared import config, mathutil


def tax(amount):
    return mathutil.mul(amount, config.settings()["tax_rate"])


def gross(amount):
    return amount + tax(amount)
