from __future__ import annotations

import ast

import pytest

from difftest.changes.blocks import (
    InstanceState,
    instance_state,
    instance_states,
    keeping_lines,
    parse_blocks,
    sharing_of,
)
from difftest.errors import SourceError

SOURCE = '''
import os
LIMIT = 10

def helper(x=1):
    """Doc."""
    return x + LIMIT

@register("a")
def plugin():
    return 1

class Config:
    timeout = 5

    def method(self):
        def inner():
            return 2
        return inner()

    class Nested:
        flag = True

        def deep(self):
            return 3
'''


def changed_blocks(before: str, after: str) -> list[str]:
    old = {b.name: b.checksum for b in parse_blocks(before, "m.py").blocks}
    new = {b.name: b.checksum for b in parse_blocks(after, "m.py").blocks}
    return sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))


def test_a_file_splits_into_module_class_and_function_blocks():
    names = [(b.name, b.kind) for b in parse_blocks(SOURCE, "m.py").blocks]
    assert names[0] == ("<module>", "module")
    assert set(names) == {
        ("<module>", "module"),
        ("helper", "function"),
        ("plugin", "function"),
        ("Config", "class"),
        ("Config.method", "function"),
        ("Config.Nested", "class"),
        ("Config.Nested.deep", "function"),
    }


def test_formatting_and_comments_do_not_change_any_fingerprint():
    reformatted = SOURCE.replace("return x + LIMIT", "return (x+LIMIT)  # sum").replace(
        "\n\n", "\n"
    )
    assert changed_blocks(SOURCE, reformatted) == []


def test_a_function_body_edit_changes_only_that_function():
    assert changed_blocks(SOURCE, SOURCE.replace("return x + LIMIT", "return x - LIMIT")) == [
        "helper"
    ]


def test_a_module_constant_edit_changes_the_module_block():
    assert changed_blocks(SOURCE, SOURCE.replace("LIMIT = 10", "LIMIT = 11")) == ["<module>"]


def test_a_class_attribute_edit_changes_that_class_block_only():
    assert changed_blocks(SOURCE, SOURCE.replace("timeout = 5", "timeout = 6")) == ["Config"]
    assert changed_blocks(SOURCE, SOURCE.replace("flag = True", "flag = False")) == [
        "Config.Nested"
    ]


def test_decorator_and_default_edits_are_import_time_changes():
    assert changed_blocks(SOURCE, SOURCE.replace('@register("a")', '@register("b")')) == [
        "<module>",
        "plugin",
    ]
    assert changed_blocks(SOURCE, SOURCE.replace("def helper(x=1)", "def helper(x=2)")) == [
        "<module>",
        "helper",
    ]


def test_a_docstring_edit_is_an_import_time_change_because_code_can_read_doc():
    assert "<module>" in changed_blocks(SOURCE, SOURCE.replace('"""Doc."""', '"""Other."""'))


def test_a_nested_function_belongs_to_its_enclosing_method():
    assert changed_blocks(SOURCE, SOURCE.replace("return 2", "return 20")) == ["Config.method"]


def test_executed_lines_map_to_the_function_whose_body_holds_them():
    blocks = parse_blocks(SOURCE, "m.py")
    lines = SOURCE.splitlines()
    body_line = next(i for i, text in enumerate(lines, 1) if "return x + LIMIT" in text)
    inner_line = next(i for i, text in enumerate(lines, 1) if "return 2" in text)
    const_line = next(i for i, text in enumerate(lines, 1) if text.startswith("LIMIT"))
    assert blocks.function_at(body_line).name == "helper"
    assert blocks.function_at(inner_line).name == "Config.method"
    assert blocks.function_at(const_line) is None


def test_redefined_names_keep_distinct_stable_identities():
    source = "class A:\n    @property\n    def x(self):\n        return 1\n    @x.setter\n    def x(self, v):\n        pass\n"
    names = [b.name for b in parse_blocks(source, "p.py").blocks]
    assert names == ["<module>", "A", "A.x", "A.x#2"]


def test_a_syntax_error_names_the_file_and_line():
    with pytest.raises(SourceError, match=r"broken\.py:2"):
        parse_blocks("x = 1\ndef (:\n", "broken.py")


def test_a_memoized_function_body_is_import_time_because_later_tests_read_its_cached_result():
    source = "import functools\n\n@functools.lru_cache\ndef value():\n    return 1\n"
    assert changed_blocks(source, source.replace("return 1", "return 2")) == ["<module>", "value"]


def test_a_function_writing_module_state_is_import_time_because_later_tests_read_that_state():
    source = (
        "_CACHE = {}\n\n"
        "def _load():\n    _CACHE.update({'level': 1})\n\n"
        "def get():\n    return _CACHE or _load()\n\n"
        "class Registry:\n    items = []\n\n    @classmethod\n    def add(cls, x):\n        cls.items.append(x)\n"
    )
    assert changed_blocks(source, source.replace("'level': 1", "'level': 2")) == [
        "<module>",
        "_load",
    ]
    assert changed_blocks(source, source.replace("append(x)", "append(x * 2)")) == [
        "Registry",
        "Registry.add",
    ]


def test_a_function_with_only_local_state_stays_a_function_block():
    source = "def f(items):\n    seen = []\n    seen.append(items)\n    return seen\n"
    assert changed_blocks(source, source.replace("append(items)", "append(items * 2)")) == ["f"]


def test_a_function_that_feeds_module_state_is_import_time_too():
    source = (
        "_CACHE = {}\n\n"
        "def _load():\n    return {'level': 1}\n\n"
        "def get(key):\n    if not _CACHE:\n        _CACHE.update(_load())\n    return _CACHE[key]\n"
    )
    assert changed_blocks(source, source.replace("'level': 1", "'level': 2")) == [
        "<module>",
        "_load",
    ]


def test_a_local_sharing_a_module_level_name_is_not_module_state():
    # `result` is also a method name in the module: the local list is still only local.
    source = (
        "class Job:\n    def result(self):\n        return 1\n\n"
        "def fill(n):\n    result = [0] * n\n    result[0] = 1\n    return result\n"
    )
    assert changed_blocks(source, source.replace("result[0] = 1", "result[0] = 2")) == ["fill"]


def test_a_module_imported_inside_a_function_is_still_shared_state():
    source = "def configure():\n    import os\n    os.environ['MODE'] = 'a'\n"
    assert changed_blocks(source, source.replace("'a'", "'b'")) == ["<module>", "configure"]


def test_a_parameter_or_alias_named_like_module_state_still_counts_as_that_state():
    # `_seen=_seen` binds the module's list; `items = ITEMS` aliases it.
    source = (
        "_seen = []\nITEMS = []\n\n"
        "def note(x, _seen=_seen):\n    _seen.append(x)\n\n"
        "def add(x):\n    ITEMS = ITEMS_ALIAS\n    ITEMS.append(x)\n\nITEMS_ALIAS = ITEMS\n"
    )
    assert changed_blocks(source, source.replace("_seen.append(x)", "_seen.append(-x)")) == [
        "<module>",
        "note",
    ]
    assert changed_blocks(source, source.replace("ITEMS.append(x)", "ITEMS.append(-x)")) == [
        "<module>",
        "add",
    ]


_MEMO_COMPUTE = "def _compute(key):\n    return key * 10\n\n"


@pytest.mark.parametrize(
    "memo",
    [
        "def get(key, _memo={}):\n    if key not in _memo:\n        _memo[key] = _compute(key)\n"
        "    return _memo[key]\n",
        "def get(key, *, _memo=dict()):\n    return _memo.setdefault(key, _compute(key))\n",
        "class Getter:\n    _cache = {}\n\n    def __call__(self, key):\n"
        "        self._cache[key] = _compute(key)\n        return self._cache[key]\n",
        "class Memo:\n    data = {}\n\n"
        "def get(key):\n    d = Memo.data\n    d[key] = _compute(key)\n    return d[key]\n",
        "_CACHE = {}\n\n"
        "def get(key):\n    cache = _CACHE\n    cache[key] = _compute(key)\n    return cache[key]\n",
        "_ENTRIES = [[]]\n\ndef get(key):\n    for entry in _ENTRIES:\n"
        "        entry.append(_compute(key))\n",
        "import functools\n\nget = functools.lru_cache(maxsize=None)(lambda key: _compute(key))\n",
        "from functools import cache\n\nget = cache(_compute)\n",
        "import functools\n\ndef _get(memo, key):\n    memo[key] = _compute(key)\n"
        "    return memo[key]\n\nget = functools.partial(_get, {})\n",
    ],
    ids=[
        "mutable-default",
        "keyword-only-default",
        "class-attribute-through-self",
        "local-alias-of-class-attribute",
        "local-alias-of-module-state",
        "loop-over-module-state",
        "memo-around-a-lambda",
        "memo-around-a-function",
        "partial-binding-a-new-dict",
    ],
)
def test_what_a_memo_outside_a_def_or_module_name_keeps_is_import_time_too(memo: str):
    # A later test hits the memo and never runs `_compute`: it must depend on `_compute` anyway.
    source = _MEMO_COMPUTE + memo
    changed = changed_blocks(source, source.replace("key * 10", "key * 11"))
    assert "<module>" in changed and "_compute" in changed


@pytest.mark.parametrize(
    "plain",
    [
        "def get(key, limit=10, names=('a', 'b')):\n    found = {}\n"
        "    found[key] = _compute(key)\n    return found\n",
        "class Getter:\n    name = 'g'\n\n    def __init__(self):\n        self.seen = {}\n\n"
        "    def get(self, key):\n        self.seen[key] = _compute(key)\n"
        "        return self.seen[key]\n",
        "import functools\n\nget = functools.partial(_compute, 2)\n",
        "class Getter:\n    def __init__(self, compute=_compute):\n        self.compute = compute\n",
    ],
    ids=[
        "immutable-defaults-and-a-new-dict",
        "instance-attribute",
        "partial-binding-constants",
        "instance-attribute-from-a-default",
    ],
)
def test_functions_storing_only_into_what_each_call_or_instance_makes_stay_function_blocks(
    plain: str,
):
    source = _MEMO_COMPUTE + plain
    assert changed_blocks(source, source.replace("key * 10", "key * 11")) == ["_compute"]


_REGISTRY = (
    "class Registry:\n"
    "    def __init__(self):\n        self._values = {}\n\n"
    "    def value(self, key):\n"
    "        if key not in self._values:\n            self._values[key] = self._compute(key)\n"
    "        return self._values[key]\n\n"
    "    def _compute(self, key):\n        return key * 2\n"
)


_SINGLETON = (
    "class Registry:\n    _one = None\n\n"
    "    @classmethod\n    def one(cls):\n"
    "        if cls._one is None:\n            cls._one = cls()\n        return cls._one\n\n"
)


def test_methods_storing_on_a_singleton_a_classmethod_keeps_on_its_class_are_import_time_too():
    source = _REGISTRY.replace("class Registry:\n", _SINGLETON)
    # The class body runs at import time: the kept methods, and what they call, are part of it.
    assert changed_blocks(source, source.replace("key * 2", "key * 3")) == [
        "Registry",
        "Registry._compute",
    ]


@pytest.mark.parametrize(
    "tail",
    ["\ndef make():\n    return Registry()\n", "\nREGISTRY = Registry()\n"],
    ids=["made-in-a-function", "made-at-import-time"],
)
def test_methods_storing_on_other_instances_stay_method_blocks(tail: str):
    # An instance made at import time is found where it is held, when tests run: only the tests
    # calling its methods depend on what they store (instance_state).
    source = _REGISTRY + tail
    assert changed_blocks(source, source.replace("key * 2", "key * 3")) == ["Registry._compute"]


_HOME_MADE_MEMO = (
    "def remember(func):\n    found = {}\n\n"
    "    def wrapper(key):\n"
    "        if key not in found:\n            found[key] = func(key)\n"
    "        return found[key]\n\n"
    "    wrapper.__name__ = func.__name__\n    return wrapper\n\n"
    "@remember\ndef double(key):\n    return key * 2\n"
)


def test_what_a_home_made_memo_decorator_keeps_is_import_time_too():
    source = _HOME_MADE_MEMO
    assert changed_blocks(source, source.replace("key * 2", "key * 3")) == ["<module>", "double"]
    # Its own body runs in every test calling the decorated function: no import-time code.
    assert changed_blocks(source, source.replace("found = {}", "found = dict()")) == ["remember"]


def test_what_a_closure_stores_from_a_module_function_is_import_time_too():
    source = (
        "def _parse():\n    return {'level': 1}\n\n"
        "def loader():\n    found = {}\n\n"
        "    def load():\n        if not found:\n            found.update(_parse())\n"
        "        return found\n\n    return load\n\nload = loader()\n"
    )
    assert changed_blocks(source, source.replace("'level': 1", "'level': 2")) == [
        "<module>",
        "_parse",
    ]


def test_a_closure_writing_only_its_own_variables_keeps_nothing():
    source = (
        "def wrap(func):\n"
        "    def wrapper(key):\n        out = {}\n        out[key] = func(key)\n        return out\n\n"
        "    return wrapper\n\n"
        "@wrap\ndef double(key):\n    return key * 2\n"
    )
    assert changed_blocks(source, source.replace("key * 2", "key * 3")) == ["double"]


def test_functions_storing_into_objects_they_did_not_build_may_keep_what_they_read():
    source = (
        "class Box:\n"
        "    def fill(self, path):\n        self.text = open(path).read()\n\n"  # line 2
        "    def peek(self, path):\n        text = open(path).read()\n        return text\n\n"
        "def into(target, path):\n    target['text'] = open(path).read()\n\n"  # line 9
        "def fresh(path):\n    out = {}\n    out['text'] = open(path).read()\n    return out\n\n"
        # What it stores into a local bound to a call's result, it returns.
        "def loaded(path):\n    out = json.loads('{}')\n    out.update(json.load(open(path)))\n"
        "    return out\n"
    )
    assert keeping_lines(ast.parse(source)) == {2, 9}


def test_a_local_that_may_stand_for_an_object_kept_elsewhere_stores_outside_the_function():
    source = (
        "def got(path):\n    cache = get_cache()\n    cache[path] = open(path).read()\n\n"  # 1
        "def alias(path):\n    cache = _CACHE\n    cache[path] = 1\n\n"  # 5
        "class K:\n"
        "    def mine(self, path):\n        c = self.load(path)\n        c['x'] = 1\n\n"  # 10
        "    def each(self):\n        for e in sorted(self.entries):\n            e.seen = 1\n\n"
        "def parsed(path):\n"  # 17
        "    rows = list(csv.DictReader(open(path)))\n"
        "    for row in rows:\n        row['n'] = int(row['n'])\n"
        "    for key, value in json.load(open(path)).items():\n        rows.append(value)\n"
        "    return rows\n"
    )
    assert keeping_lines(ast.parse(source)) == {1, 5, 10, 14}


def test_the_state_of_an_instance_is_what_its_storing_methods_and_their_callees_run():
    source = _REGISTRY + "\n    def describe(self):\n        return 'registry'\n"
    # __init__ and value store, value stores what _compute returns: their body lines.
    # Every method but the constructor may read it.
    state = instance_state(ast.parse(source), "Registry")
    assert state == InstanceState(frozenset({6, 7, 8, 11, 14}), frozenset({3, 6, 7, 8, 11}))
    assert (
        instance_state(ast.parse("class Point:\n    def norm(self):\n        return 1\n"), "Point")
        is None
    )


def test_the_states_of_a_modules_classes_are_each_classs_own_state_found_in_one_pass():
    source = (
        _REGISTRY
        + "\n    class Entry:\n        def set(self, value):\n            self.value = value\n\n"
        + "        def get(self):\n            return self.value\n"
        + "\nclass Point:\n    def norm(self):\n        return 1\n"
    )
    tree = ast.parse(source)
    states = instance_states(tree)
    assert set(states) == {"Registry", "Registry.Entry"}  # Point keeps nothing
    for name, state in states.items():
        assert state == instance_state(tree, name)
    facts = sharing_of(tree)
    assert facts.states == states and facts.keeping == keeping_lines(tree)


@pytest.mark.parametrize(
    "binding",
    ["    def handler():\n        return 1\n", "    handler = Handler()\n"],
    ids=["nested-def", "assignment"],
)
def test_a_name_a_function_declares_global_is_module_state_wherever_it_is_bound(binding: str):
    source = (
        "class Handler:\n    pass\n\n"
        f"def setup():\n    global handler\n{binding}\n"
        "def mark(value):\n    handler.flag = value\n"
    )
    assert changed_blocks(source, source.replace("flag = value", "flag = not value")) == [
        "<module>",
        "mark",
    ]
