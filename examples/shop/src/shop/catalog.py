"""Products, registered by category at import time."""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES: dict[str, type] = {}


def category(name: str):
    def register(cls: type) -> type:
        CATEGORIES[name] = cls
        return cls

    return register


@dataclass
class Product:
    name: str
    price: float
    stock: int = 0


@category("book")
class Book(Product):
    kind = "paper"


@category("ebook")
class EBook(Product):
    kind = "digital"
