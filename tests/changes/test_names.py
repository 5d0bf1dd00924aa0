"""Name facts: what import-time statements bind and use, and which edits only bind names."""

from __future__ import annotations

import ast
import json
import textwrap

import pytest

from difftest.changes.blocks import parse_blocks
from difftest.changes.names import (
    FINDS_MODULES,
    IMPORTS,
    IMPURE,
    PURE,
    REACHES,
    READS,
    NameFacts,
    name_facts,
)
from difftest.selection.narrowing import changed_names


def facts(source: str) -> NameFacts:
    return name_facts(ast.parse(textwrap.dedent(source)))


def kinds(source: str, scope: str = "") -> dict[str, str]:
    return {s[0]: s[1] for s in facts(source).scopes[scope]}


def test_constants_defs_and_pure_builtin_calls_only_bind_names() -> None:
    found = kinds(
        """
        LIMIT = 10
        PAIR = tuple(sorted([LIMIT, 2]))
        _sum = getattr(math, "fsum", sum)

        def f(x=LIMIT):
            return x
        """
    )
    assert found == {"LIMIT": PURE, "PAIR": PURE, "_sum": PURE, "f": PURE}


def test_calls_to_project_code_and_statements_with_effects_are_impure() -> None:
    statements = facts(
        """
        def register(x):
            return x

        NAME = register("a")
        print("loaded")
        CONFIG = load_settings()
        del NAME
        """
    ).scopes[""]
    assert [(s[0], s[1]) for s in statements] == [
        ("register", PURE),
        ("NAME", IMPURE),
        (statements[2][0], IMPURE),
        ("CONFIG", IMPURE),
        ("NAME", IMPURE),
    ]


def test_pure_builtins_that_call_project_code_or_create_classes_are_impure() -> None:
    found = kinds(
        """
        from registry import register, Base

        HANDLED = list(map(register, [1, 2]))
        FIRST = min([3, 1], key=register)
        ORDER = sorted([3, 1], key=lambda x: register(x))
        Json = type("Json", (Base,), {"kind": "json"})
        NAMES = list(map(str, [1, 2]))
        SMALL = sorted([3, 1], key=lambda x: -x)
        KEPT = list(filter(None, [0, 1]))
        KIND = type(NAMES)
        """
    )
    assert {k: found[k] for k in ("HANDLED", "FIRST", "ORDER", "Json")} == dict.fromkeys(
        ("HANDLED", "FIRST", "ORDER", "Json"), IMPURE
    )
    assert {k: found[k] for k in ("NAMES", "SMALL", "KEPT", "KIND")} == dict.fromkeys(
        ("NAMES", "SMALL", "KEPT", "KIND"), PURE
    )


def test_each_imported_name_is_a_binding_of_its_own() -> None:
    statements = facts("from pkg.core import a, b as c\nimport os.path\n").scopes[""]
    assert [(s[0], s[1]) for s in statements] == [("a", IMPORTS), ("c", IMPORTS), ("os", IMPORTS)]
    assert set(statements[1][3].split()) == {"pkg", "core", "b", "c", "import:pkg.core.b"}


def test_relative_imports_record_the_module_they_name_from_the_files_path() -> None:
    found = name_facts(ast.parse("from .core import a\nfrom .. import util\n"), "src/pkg/sub/m.py")
    words = {w for s in found.scopes[""] for w in s[3].split()}
    assert {"import:src.pkg.sub.core.a", "import:src.pkg.util"} <= words


def test_a_call_that_shares_a_builtin_name_but_is_imported_from_elsewhere_is_impure() -> None:
    found = kinds(
        """
        from dataclasses import field
        from myorm import partial

        A = field(default=1)
        B = partial(print)
        """
    )
    assert (found["A"], found["B"]) == (PURE, IMPURE)


def test_a_name_a_star_import_from_elsewhere_may_have_brought_is_not_taken_for_a_builtin() -> None:
    project_star = kinds("from mylib import *\n\nA = partial(print)\nB = len('x')\n")
    assert (project_star["A"], project_star["B"]) == (IMPURE, IMPURE)
    stdlib_star = kinds("from functools import *\n\nA = partial(print)\n")
    assert stdlib_star["A"] == PURE


def test_a_function_memoized_by_the_standard_library_only_binds_its_name() -> None:
    found = kinds(
        """
        from functools import cache, lru_cache

        @lru_cache(maxsize=None)
        def table():
            return [1, 2]

        @cache
        def total():
            return helper() + 1

        def helper():
            return 2

        @lru_cache
        def noted():
            _seen.append(1)

        @memoize
        def mine():
            return 3

        _seen = []
        """
    )
    assert found["table"] == PURE
    # helper's result is what total's memo keeps: readers of the memo never mention helper.
    assert (found["total"], found["helper"]) == (PURE, IMPURE)
    assert found["noted"] == IMPURE  # writes module state besides its memo
    assert found["mine"] == IMPURE  # a project decorator runs project code
    in_class = kinds(
        "from functools import cached_property\n\n"
        "class Box:\n    @cached_property\n    def area(self):\n        return 9\n",
        "Box",
    )
    assert in_class == {"area": PURE}


def test_a_docstring_mentions_nothing_but_its_doctest_examples_do() -> None:
    found = facts(
        '''
        class Tests:
            """Tests for limit()."""

            def check(self):
                """Calls other() in the end."""
                return 1

        def shown():
            """
            >>> other()
            1
            """
        '''
    )
    assert found.scopes["Tests"][0][3] == ""
    assert "other" not in found.functions["Tests.check"][1]
    assert "other" in found.functions["shown"][1]


def test_a_function_that_writes_module_state_is_impure() -> None:
    found = kinds(
        """
        _seen = []

        def note(x):
            _seen.append(x)
        """
    )
    assert found["note"] == IMPURE


def test_class_bodies_are_pure_only_when_creating_the_class_runs_no_project_code() -> None:
    source = """
        import abc

        class Plain(abc.Sequence):
            size = 3

            @property
            def area(self):
                return self.size

        class Child(Plain):
            kind = "x"

        class Remote(SomethingElsewhere):
            kind = "y"
        """
    assert kinds(source, "Plain") == {"size": PURE, "area": PURE}
    assert kinds(source, "Child") == {"kind": PURE}
    assert kinds(source, "Remote") == {"kind": IMPURE}
    hooked = (
        textwrap.dedent(source) + "\nclass Base:\n    def __init_subclass__(cls):\n        pass\n"
    )
    assert kinds(hooked, "Plain") == {"size": IMPURE, "area": IMPURE}


def test_functions_that_read_namespaces_by_computed_name_are_dynamic() -> None:
    found = facts(
        """
        def by_name(mod, name):
            return getattr(mod, name)

        def by_constant(mod):
            return getattr(mod, "LIMIT")

        def listing(mod):
            return vars(mod)
        """
    ).functions
    assert found["by_name"][0] == READS
    assert found["by_constant"] == (0, found["by_constant"][1])
    assert "LIMIT" in found["by_constant"][1]
    assert found["listing"][0] == READS
    assert facts("import sys\ndef f():\n    return sys.modules\n").functions["f"][0] == REACHES


def test_formatting_a_template_that_is_not_a_literal_reads_names_by_computed_name() -> None:
    # `{c.GREETING}` in a template read from a data file looks up a name the code never mentions.
    found = facts(
        """
        def render(template, consts):
            return template.format(c=consts)

        def render_map(template, context):
            return str.format_map(template, context)

        def literal(consts):
            return "{c.GREETING}".format(c=consts)

        def literal_through_str(consts):
            return str.format("{c.GREETING}", c=consts)
        """
    ).functions
    assert (found["render"][0], found["render_map"][0]) == (READS, READS)
    assert (found["literal"][0], found["literal_through_str"][0]) == (0, 0)


def test_facts_survive_a_json_round_trip() -> None:
    original = facts("X = 1\n\nclass C:\n    y = X\n\ndef f():\n    return getattr(C, 'y')\n")
    assert NameFacts.from_json(original.to_json()) == original


def test_facts_of_an_earlier_analysis_are_refused() -> None:
    current = json.loads(facts("LIMIT = 1\n").to_json())
    del current["v"]
    with pytest.raises(ValueError, match="analysis version 1"):
        NameFacts.from_json(json.dumps(current))


def test_a_changed_constant_changes_only_its_name() -> None:
    assert changed_names(facts("A = 1\nB = 2\n"), facts("A = 1\nB = 3\n")) == {"B"}


def test_a_changed_class_attribute_changes_the_attribute_and_the_class() -> None:
    old = facts("class Box:\n    side = 3\n")
    new = facts("class Box:\n    side = 4\n")
    assert changed_names(old, new) == {"side", "Box"}


def test_an_edit_that_does_more_than_bind_names_is_not_narrowed() -> None:
    assert changed_names(facts("A = 1\nprint(A)\n"), facts("A = 1\nprint(A, 2)\n")) is None
    assert changed_names(facts("import json\n"), facts("import yaml\n")) is None


def test_statements_that_now_run_in_another_order_are_not_narrowed() -> None:
    old = facts("B = 1\nA = B\nB = 2\n")
    new = facts("B = 1\nB = 2\nA = B\n")
    assert changed_names(old, new) is None


def test_a_name_dropped_from_all_counts_as_changed() -> None:
    old = facts("__all__ = ['one', 'two']\n")
    new = facts("__all__ = ['one']\n")
    assert changed_names(old, new) == {"__all__", "two"}


def test_identical_facts_are_not_taken_for_a_narrowable_change() -> None:
    assert changed_names(facts("A = 1\n"), facts("A = 1  # same\n")) is None


def test_a_function_that_writes_module_globals_by_name_is_stateful_but_reads_nothing_dynamically() -> (
    None
):
    found = facts(
        """
        def __getattr__(name):
            if name == "__version__":
                globals()[name] = "1.0"
                return globals()[name]
            raise AttributeError(name)

        def cache_version():
            globals()["VERSION"] = "1.0"
        """
    )
    assert found.functions["cache_version"][0] == 0
    assert found.functions["__getattr__"][0] == REACHES  # it also reads globals()
    assert kinds("def f():\n    globals()['X'] = 1\n") == {"f": IMPURE}


def test_finding_objects_by_computed_module_name_or_frames_reaches_but_naming_a_module_does_not() -> (
    None
):
    def level(code: str) -> int:
        return facts(f"def f(name, data):\n    {code}\n").functions["f"][0]

    assert level("return importlib.import_module('json')") == 0
    assert level("return importlib.import_module(name)") == FINDS_MODULES
    assert level("return __import__(name)") == FINDS_MODULES
    assert level("m = import_module(name)\n    return sys.modules[name]") == REACHES
    assert level("return sys.modules[name]") == REACHES
    assert level("return inspect.stack()") == REACHES
    assert level("return pickle.loads(data)") == REACHES
    assert level("return json.loads(data)") == 0
    assert level("stack = [name]\n    return stack.pop()") == 0
    assert level("return vars(name)") == READS


def test_a_library_import_by_name_or_a_file_loaded_as_a_module_reaches_but_a_named_one_does_not() -> (
    None
):
    def level(code: str) -> int:
        return facts(f"def f(name, path):\n    {code}\n").functions["f"][0]

    assert level("return pkgutil.resolve_name(name)") == REACHES
    assert level("return pkgutil.resolve_name('app.plugins:Plugin')") == 0
    assert level("return pydoc.locate(name)") == REACHES
    assert level("from pydoc import locate\n    return locate(name)") == REACHES
    assert level("return mi.locate(name)") == 0  # more-itertools' locate
    assert level("return import_string(name)") == REACHES
    assert level("return [e.load() for e in entry_points(group=name)]") == REACHES
    assert level("return runpy.run_path(path)") == REACHES
    assert level("spec = importlib.util.spec_from_file_location(name, path)") == REACHES


def test_a_dynamic_reader_imported_under_another_name_or_bare_reads_dynamically_too() -> None:
    def level(imports: str, code: str) -> int:
        return facts(f"{imports}\ndef f(name, data):\n    {code}\n").functions["f"][0]

    load = level("from importlib import import_module as load", "return load(name)")
    assert load == FINDS_MODULES
    assert level("from sys import modules", "return modules[name]") == REACHES
    assert level("from pydoc import locate as find", "return find(name)") == REACHES
    assert level("from more_itertools import locate", "return locate(name)") == 0
    assert level("from inspect import getmembers as members", "return members(name)") == READS
    assert level("import pickle as pk", "return pk.loads(data)") == REACHES
    assert level("import json as js", "return js.loads(data)") == 0
    assert level("from os import path as modules", "return modules.join(name)") == 0
    inside = "from importlib import import_module as load\n    return load(name)"
    assert level("", inside) == FINDS_MODULES


def test_updating_the_module_namespace_writes_names_but_reads_none() -> None:
    assert facts("globals().update(A=1)\n").dynamic == 0
    assert facts("locals().update({'B': 2})\n").dynamic == 0
    assert facts("X = globals()['A']\n").dynamic == REACHES
    assert facts("import limits\nglobals().update(vars(limits))\n").dynamic == READS


def test_listing_a_standard_library_module_that_holds_nothing_of_the_projects_reads_nothing() -> (
    None
):
    # toolz.curried.operator: every operator, curried
    assert (
        facts("import operator\nNAMES = {n: f for n, f in vars(operator).items()}\n").dynamic == 0
    )
    assert facts("import operator\ndel operator\n").dynamic == 0
    assert facts("import operator\noperator = mine\nX = vars(operator)\n").dynamic == READS
    assert facts("import sys\nX = vars(sys)\n").dynamic == READS  # sys holds every module
    assert facts("import limits\nX = dir(limits)\n").dynamic == READS
    inside = facts("import operator\n\ndef f():\n    return vars(operator)\n")
    assert inside.functions["f"][0] == READS  # a function may see `operator` rebound


def test_importing_a_dynamic_reader_at_import_time_leaves_the_module_narrowable() -> None:
    found = facts(
        """
        try:
            from importlib import import_module as load
        except ImportError:
            load = None
        LIMIT = 1
        """
    )
    assert found.dynamic == 0


def test_doctest_docstrings_are_a_block_of_their_own_that_only_doctests_depend_on() -> None:
    source = '"""Doc.\n\n>>> 1\n1\n"""\n\n\nclass C:\n    """Plain."""\n'
    blocks = parse_blocks(source, "m.py")
    assert [b.name for b in blocks.import_blocks] == ["<module>", "C"]
    assert [b.name for b in blocks.doctest_blocks()] == ["<docstrings>"]
    assert "<docstrings>" in facts(source).functions
    assert "<docstrings>" not in facts('"""Doc."""\n').functions


def test_a_module_or_class_docstring_binds_doc() -> None:
    old = facts('"""Frobnicate widgets."""\n\nclass Box:\n    """A box."""\n')
    new = facts('"""Frobnicate gadgets."""\n\nclass Box:\n    """A box."""\n')
    assert changed_names(old, new) == {"__doc__"}
    assert changed_names(
        old, facts('"""Frobnicate widgets."""\n\nclass Box:\n    """Two."""\n')
    ) == {
        "__doc__",
        "Box",
    }
    assert changed_names(facts("X = 1\n"), facts('"""Now documented."""\nX = 1\n')) == {"__doc__"}


def test_an_enum_whose_members_are_made_by_methods_of_its_own_or_of_a_mixin_is_impure() -> None:
    source = """
        from enum import Enum, IntEnum

        class Plain(IntEnum):
            ONE = 1

            def describe(self):
                return self.name

        class Registered(Enum):
            ONE = (1, "one")

            def __init__(self, code, label):
                _BY_CODE[code] = self

        class Mixin:
            def __new__(cls, value):
                return object.__new__(cls)

        class Mixed(Mixin, Enum):
            ONE = 1

        class Named(Enum):
            def _generate_next_value_(name, start, count, last_values):
                return name

        class NotAnEnum(Mixin):
            ONE = 1
        """
    assert kinds(source, "Plain") == {"ONE": PURE, "describe": PURE}
    assert kinds(source, "Registered")["ONE"] == IMPURE
    assert kinds(source, "Mixed") == {"ONE": IMPURE}
    assert kinds(source, "Named")["_generate_next_value_"] == IMPURE
    assert kinds(source, "NotAnEnum") == {"ONE": PURE}


def test_a_module_getattr_or_dir_is_impure_but_a_class_one_only_binds_its_name() -> None:
    source = """
        def __getattr__(name):
            raise AttributeError(name)

        __dir__ = list

        class Box:
            def __getattr__(self, name):
                return 1
        """
    assert kinds(source) == {"__getattr__": IMPURE, "__dir__": IMPURE, "Box": PURE}
    assert kinds(source, "Box") == {"__getattr__": PURE}


def test_an_augmented_assignment_only_binds_its_name_when_that_is_only_ever_bound_to_literals() -> (
    None
):
    found = kinds(
        """
        from base import HANDLERS

        COUNT = 1
        COUNT += 2
        __all__ = ["a"]
        __all__ += ["b"]
        _more = HANDLERS
        _more |= {"extra": 2}
        for ITEM in []:
            pass
        ITEM = ()
        ITEM += (1,)
        """
    )
    assert (found["COUNT"], found["__all__"]) == (PURE, PURE)
    assert (found["_more"], found["ITEM"]) == (IMPURE, IMPURE)


def test_getattr_handed_on_as_a_value_reads_names_dynamically() -> None:
    found = facts(
        """
        import functools
        import operator

        def resolve(path, root):
            return functools.reduce(getattr, path.split("."), root)

        def getter(names):
            return list(map(operator.attrgetter, names))

        def constant(obj):
            return getattr(obj, "LIMIT", None), hasattr(obj, "OTHER")
        """
    ).functions
    assert (found["resolve"][0], found["getter"][0]) == (READS, READS)
    assert found["constant"][0] == 0
    assert (
        kinds("from functools import partial\nimport limits\nget = partial(getattr, limits)\n")[
            "get"
        ]
        == IMPURE
    )
