"""Import-time edits select only the importers that can see them, and every importer whenever
that cannot be shown (a call at import time, class-creation hooks, dynamic namespace access,
a module that no longer imports, reordered statements)."""

from __future__ import annotations

import pytest
from pytester_project import Project, ran

from difftest.model import FACTS_VERSION

LIMITS = {
    "limits.py": """
        LIMIT = 10
        OTHER = 5
        DOUBLE = LIMIT * 2

        def limit():
            return LIMIT

        def other(x=OTHER):
            return x

        def double():
            return DOUBLE

        def plain():
            return 1
        """,
    "tests/test_limits.py": """
        import limits

        def test_limit():
            assert limits.limit() == 10

        def test_other():
            assert limits.other() == 5

        def test_double():
            assert limits.double() == 20

        def test_plain():
            assert limits.plain() == 1
        """,
}


def test_a_changed_constant_runs_only_the_tests_whose_code_reads_it_directly_or_through_another_constant(
    project: Project,
) -> None:
    project.write(LIMITS)
    project.baseline()
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_limits.py::test_double", "tests/test_limits.py::test_limit"]
    result.stdout.fnmatch_lines(
        ["*changed: limits.py::<module> changed: limits.py::limit uses LIMIT"]
    )


def test_a_constant_read_by_another_modules_import_time_binding_reaches_its_readers(
    project: Project,
) -> None:
    project.write(
        {
            **LIMITS,
            "derived.py": """
                from limits import LIMIT as CAP

                HALF = CAP // 2

                def half():
                    return HALF
                """,
            "tests/test_derived.py": """
                from derived import half

                def test_half():
                    assert half() == 5
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 12")
    assert ran(project.diff()) == [
        "tests/test_derived.py::test_half",
        "tests/test_limits.py::test_double",
        "tests/test_limits.py::test_limit",
    ]


def test_a_changed_default_argument_runs_only_the_tests_that_call_the_function(
    project: Project,
) -> None:
    project.write(LIMITS)
    project.baseline()
    project.edit("limits.py", "def other(x=OTHER):", "def other(x=OTHER + 1):")
    assert ran(project.diff()) == ["tests/test_limits.py::test_other"]


def test_a_removed_property_decorator_runs_the_tests_using_that_class_only(
    project: Project,
) -> None:
    project.write(
        {
            "shapes.py": """
                class Box:
                    side = 3

                    @property
                    def area(self):
                        return self.side * self.side

                def unit():
                    return 1
                """,
            "tests/test_shapes.py": """
                from shapes import Box, unit

                def test_area():
                    assert Box().area == 9

                def test_unit():
                    assert unit() == 1
                """,
        }
    )
    project.baseline()
    project.edit("shapes.py", "    @property\n", "")
    result = project.diff()
    assert ran(result) == ["tests/test_shapes.py::test_area"]
    result.assert_outcomes(failed=1, deselected=1)


def test_a_test_class_docstring_naming_a_changed_function_does_not_run_the_whole_test_file(
    project: Project,
) -> None:
    # unittest's TestCase may run code when subclassed, so every statement of these class
    # bodies counts as more than binding; a docstring still runs nothing.
    project.write(
        {
            **LIMITS,
            "tests/test_cases.py": """
                from unittest import TestCase

                import limits

                class OtherTests(TestCase):
                    \"\"\"Tests for other().\"\"\"

                    def test_other(self):
                        assert limits.other() == 5

                class PlainTests(TestCase):
                    def test_plain(self):
                        assert limits.plain() == 1
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "def other(x=OTHER):", "def other(x=OTHER + 1):")
    assert ran(project.diff()) == [
        "tests/test_cases.py::OtherTests::test_other",
        "tests/test_limits.py::test_other",
    ]


def test_an_edited_cached_property_runs_the_tests_of_its_class_even_those_reading_the_memo(
    project: Project,
) -> None:
    project.write(
        {
            "shapes.py": """
                from functools import cached_property

                class Box:
                    side = 3

                    @cached_property
                    def area(self):
                        return self.side * self.side

                def unit():
                    return 1
                """,
            "tests/test_shapes.py": """
                import pytest

                from shapes import Box, unit

                @pytest.fixture(scope="module")
                def box():
                    return Box()

                def test_computes_the_area(box):
                    assert box.area == 9

                def test_reads_the_memo(box):
                    assert box.area == 9

                def test_unit():
                    assert unit() == 1
                """,
        }
    )
    project.baseline()
    project.edit("shapes.py", "return self.side * self.side", "return self.side * 2")
    result = project.diff()
    # The second test read what the first left in the memo, never running the body.
    assert ran(result) == [
        "tests/test_shapes.py::test_computes_the_area",
        "tests/test_shapes.py::test_reads_the_memo",
    ]
    result.assert_outcomes(failed=2, deselected=1)


def test_a_class_attribute_read_by_an_init_subclass_registry_runs_every_importer(
    project: Project,
) -> None:
    project.write(
        {
            "registry.py": """
                KINDS = {}

                class Base:
                    def __init_subclass__(cls):
                        KINDS[cls.kind] = cls

                class Csv(Base):
                    kind = "csv"

                def lookup(name):
                    return KINDS[name]
                """,
            "tests/test_registry.py": """
                from registry import lookup

                def test_lookup():
                    assert lookup("csv")
                """,
        }
    )
    project.baseline()
    project.edit("registry.py", 'kind = "csv"', 'kind = "tsv"')
    result = project.diff()
    assert ran(result) == ["tests/test_registry.py::test_lookup"]
    result.assert_outcomes(failed=1)


def test_a_constant_passed_to_a_registering_call_at_import_runs_every_importer(
    project: Project,
) -> None:
    project.write(
        {
            "plugins.py": """
                HANDLERS = []

                def register(name):
                    HANDLERS.append(name)

                NAME = "json"
                register(NAME)

                def names():
                    return list(HANDLERS)
                """,
            "tests/test_plugins.py": """
                from plugins import names

                def test_names():
                    assert names() == ["json"]
                """,
        }
    )
    project.baseline()
    project.edit("plugins.py", 'NAME = "json"', 'NAME = "yaml"')
    result = project.diff()
    assert ran(result) == ["tests/test_plugins.py::test_names"]
    result.assert_outcomes(failed=1)


def test_a_test_that_reads_a_namespace_by_computed_name_runs_for_any_import_time_edit(
    project: Project,
) -> None:
    project.write(
        {
            **LIMITS,
            "tests/test_namespace.py": """
                import limits

                def test_every_constant_is_positive():
                    for name in ["LI" + "MIT", "OTHER"]:
                        assert getattr(limits, name) > 0
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "OTHER = 5", "OTHER = -5")
    result = project.diff()
    assert ran(result) == [
        "tests/test_limits.py::test_other",
        "tests/test_namespace.py::test_every_constant_is_positive",
    ]
    result.assert_outcomes(failed=2)


def test_an_edit_that_breaks_importing_the_module_runs_every_importer_and_says_why(
    project: Project,
) -> None:
    project.write(LIMITS)
    project.baseline()
    project.edit("limits.py", "OTHER = 5", "OTHER = 5\nRATIO = LIMIT // (OTHER - 5)")
    result = project.diff()
    result.stdout.fnmatch_lines(
        [
            "difftest: warning: after the change, limits does not import (ZeroDivisionError*"
            "fresh interpreter), so the change is not narrowed: every test that imported*"
        ]
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*ERROR tests/test_limits.py*ZeroDivisionError*"])


def test_reordered_statements_run_every_importer(project: Project) -> None:
    project.write(
        {
            "order.py": """
                B = 1
                A = B
                B = 2

                def b():
                    return B
                """,
            "tests/test_order.py": """
                import order

                def test_a():
                    assert order.A == 1

                def test_b():
                    assert order.b() == 2
                """,
        }
    )
    project.baseline()
    project.edit("order.py", "A = B\nB = 2", "B = 2\nA = B")
    result = project.diff()
    assert ran(result) == ["tests/test_order.py::test_a", "tests/test_order.py::test_b"]
    result.assert_outcomes(failed=1, passed=1)


def test_a_name_dropped_from_all_runs_the_tests_that_use_it_through_a_star_import(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "from pkg.impl import *\n",
            "pkg/impl.py": """
                __all__ = ["one", "two"]

                def one():
                    return 1

                def two():
                    return 2
                """,
            "tests/test_pkg.py": """
                import pkg

                def test_one():
                    assert pkg.one() == 1

                def test_two():
                    assert pkg.two() == 2
                """,
        }
    )
    project.baseline()
    project.edit("pkg/impl.py", '__all__ = ["one", "two"]', '__all__ = ["one"]')
    result = project.diff()
    assert ran(result) == ["tests/test_pkg.py::test_two"]
    result.assert_outcomes(failed=1)


def test_narrowing_holds_under_xdist_and_after_a_partial_baseline_update(
    project: Project,
) -> None:
    project.write(LIMITS)
    project.baseline()
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 5 + 5")
    assert ran(project.diff("-n", "2")) == [
        "tests/test_limits.py::test_double",
        "tests/test_limits.py::test_limit",
    ]
    # Updating the baseline re-records only those two; the other tests keep their records
    # against the old file, and a further edit is still judged against what each last ran.
    project.baseline("-n", "2")
    project.edit("limits.py", "OTHER = 5", "OTHER = 6")
    assert ran(project.diff()) == ["tests/test_limits.py::test_other"]


def test_a_settings_module_read_by_a_framework_runs_every_importer(project: Project) -> None:
    project.write(
        {
            "mysite/__init__.py": "",
            "mysite/settings.py": "DEBUG = False\nNAME = 'prod'\n",
            "framework.py": """
                import importlib

                def setting(name):
                    module = importlib.import_module("mysite.settings")
                    return module.__dict__[name.upper()]
                """,
            "tests/test_mysite.py": """
                from framework import setting
                from mysite import settings

                def test_debug_is_off():
                    assert setting("debug") is False

                def test_name():
                    assert settings.NAME == "prod"
                """,
        }
    )
    project.baseline()
    project.edit("mysite/settings.py", "DEBUG = False", "DEBUG = True")
    result = project.diff()
    assert ran(result) == [
        "tests/test_mysite.py::test_debug_is_off",
        "tests/test_mysite.py::test_name",
    ]
    result.assert_outcomes(failed=1, passed=1)


def test_a_module_loaded_only_through_importlib_runs_every_test_that_loaded_it(
    project: Project,
) -> None:
    project.write(
        {
            "plugins/__init__.py": "",
            "plugins/alpha.py": "RATE = 1\nDEFAULT = RATE\n\ndef rate(r=DEFAULT):\n    return r\n",
            "loader.py": """
                import importlib

                def rate_of(name):
                    return importlib.import_module("plugins." + name).rate()
                """,
            "tests/test_loader.py": """
                from loader import rate_of

                def test_rate():
                    assert rate_of("alpha") == 1
                """,
        }
    )
    project.baseline()
    project.edit("plugins/alpha.py", "RATE = 1", "RATE = 2")
    result = project.diff()
    assert ran(result) == ["tests/test_loader.py::test_rate"]
    result.assert_outcomes(failed=1)


def test_a_doctest_that_reads_a_changed_constant_runs(project: Project) -> None:
    project.write(
        {
            **LIMITS,
            "docs.py": '''
                """Limits.

                >>> import limits
                >>> limits.LIMIT
                10
                """


                def described():
                    """
                    >>> from limits import OTHER
                    >>> OTHER
                    5
                    """
                ''',
        }
    )
    project.baseline("--doctest-modules")
    project.edit("limits.py", "OTHER = 5", "OTHER = 6")
    result = project.diff("--doctest-modules")
    # A doctest depends on every docstring of its file: the module's doctest runs too.
    assert ran(result) == [
        "docs.py::docs",
        "docs.py::docs.described",
        "tests/test_limits.py::test_other",
    ]
    result.assert_outcomes(failed=2, passed=1, deselected=3)
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    assert "docs.py::docs" in ran(project.diff("--doctest-modules"))


def test_a_text_files_doctest_that_reads_a_changed_constant_runs(project: Project) -> None:
    """pytest collects ``test*.txt`` as doctests: their code is no Python file's, so what names
    it mentions is unknown and a change of the modules it imported is never narrowed away."""
    project.write(
        {
            **LIMITS,
            "tests/test_doc.txt": ">>> import limits\n>>> limits.LIMIT * 2\n20\n",
        }
    )
    project.baseline().assert_outcomes(passed=5)
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    result = project.diff("--diff-v")
    assert "tests/test_doc.txt::test_doc.txt" in ran(result)
    result.stdout.fnmatch_lines(["*tests/test_doc.txt is no Python whose names are known*"])


def test_a_module_that_reads_another_modules_namespace_at_import_runs_its_importers(
    project: Project,
) -> None:
    project.write(
        {
            **LIMITS,
            "table.py": """
                import limits

                VALUES = {k: v for k, v in vars(limits).items() if k.isupper()}

                def value(key):
                    return VALUES[key]
                """,
            "tests/test_table.py": """
                from table import value

                def test_other_value():
                    assert value("OTH" + "ER") == 5
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "OTHER = 5", "OTHER = 7")
    result = project.diff("--diff-v")
    assert ran(result) == [
        "tests/test_limits.py::test_other",
        "tests/test_table.py::test_other_value",
    ]
    result.stdout.fnmatch_lines(["*table.py reads namespaces dynamically at import time*"])
    result.assert_outcomes(failed=2)


def test_a_class_attribute_of_a_subclass_whose_base_lives_in_another_module_runs_every_importer(
    project: Project,
) -> None:
    project.write(
        {
            "base.py": """
                KINDS = {}

                class Base:
                    def __init_subclass__(cls):
                        KINDS[cls.kind] = cls

                def lookup(name):
                    return KINDS[name]
                """,
            "child.py": """
                from base import Base

                class Child(Base):
                    kind = "a"
                """,
            "tests/test_kinds.py": """
                import child
                from base import lookup

                def test_lookup():
                    assert lookup("a")
                """,
        }
    )
    project.baseline()
    project.edit("child.py", 'kind = "a"', 'kind = "b"')
    result = project.diff()
    assert ran(result) == ["tests/test_kinds.py::test_lookup"]
    result.assert_outcomes(failed=1)


#: A plugin class found by a name read from a data file, and a helper that lists the attributes
#: of whatever it is handed: no code the test runs names the plugin.
_FOUND_BY_NAME = {
    "app/__init__.py": "from . import plugins\n",
    "app/plugins.py": """
        class Plugin:
            options = {"a": 1}
        """,
    "spec.txt": "app.plugins:Plugin\n",
    "tools.py": """
        from pathlib import Path
        {imports}

        def load():
            return {call}(Path(__file__).with_name("spec.txt").read_text().strip())

        def dump(obj):
            return dict(vars(obj))
        """,
    "tests/test_tools.py": """
        from tools import dump, load

        def test_dump():
            assert {"a": 1} in dump(load()).values()

        def test_other():
            assert 1 + 1 == 2
        """,
}


def _found_by_name(imports: str, call: str) -> dict[str, str]:
    # Continuation lines take the template's indentation (it is dedented as a whole).
    imports = imports.replace("\n", "\n        ")
    tools = _FOUND_BY_NAME["tools.py"].replace("{imports}", imports).replace("{call}", call)
    return {**_FOUND_BY_NAME, "tools.py": tools}


@pytest.mark.parametrize(
    ("imports", "call", "finder"),
    [
        pytest.param(
            "import pkgutil",
            "pkgutil.resolve_name",
            "load finds objects by itself",
            id="pkgutil.resolve_name",
        ),
        pytest.param(
            "from importlib import import_module as by_name\n\n"
            "def find(spec):\n"
            "    module, _, attr = spec.partition(':')\n"
            "    return getattr(by_name(module), attr)",
            "find",
            "find imports modules by name",
            id="import_module-under-another-name",
        ),
    ],
)
def test_a_class_found_by_a_name_read_from_a_file_runs_the_tests_that_found_it(
    project: Project, imports: str, call: str, finder: str
) -> None:
    project.write(_found_by_name(imports, call))
    project.baseline()
    project.edit("app/plugins.py", '"a": 1', '"a": 2')
    result = project.diff("--diff-v")
    assert ran(result) == ["tests/test_tools.py::test_dump"]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*tools.py::{finder}*"])


def test_facts_of_an_earlier_analysis_narrow_nothing_until_the_next_baseline_run_renews_them(
    project: Project,
) -> None:
    project.write(LIMITS)
    project.baseline()
    # What a baseline written by an earlier difftest holds: facts without an analysis version.
    project.sql(f"UPDATE names SET facts = replace(facts, ',\"v\":{FACTS_VERSION}}}', '}}')")
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    assert len(ran(project.diff())) == 4  # nothing narrowed: every importer runs
    project.edit("limits.py", "LIMIT = 11", "LIMIT = 10")
    project.baseline()  # no test runs, and the facts are computed again
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    assert ran(project.diff()) == [
        "tests/test_limits.py::test_double",
        "tests/test_limits.py::test_limit",
    ]


# A registry built at import time from modules imported by name (toolz builds its signature
# registry this way): every test imports the package, so every test ran `build`.
_REGISTRY = {
    **LIMITS,
    "shapes.py": """
        def area(side=3):
            return side * side

        def perimeter(side=3):
            return 4 * side
        """,
    "registry.py": """
        from importlib import import_module

        SPECS = {"shapes": ["area"]}
        TABLE = {}

        def build(specs=SPECS):
            for module_name, names in specs.items():
                module = import_module(module_name)
                for name in names:
                    TABLE[name] = getattr(module, name)
        """,
    "pkg.py": """
        import limits
        import registry
        import shapes

        registry.build()
        """,
    "tests/test_limits.py": """
        from pkg import limits

        def test_limit():
            assert limits.limit() == 10

        def test_other():
            assert limits.other() == 5
        """,
    "tests/test_shapes.py": """
        from pkg import registry, shapes

        def test_area():
            assert registry.TABLE["area"]() == 9

        def test_perimeter():
            assert shapes.perimeter() == 12
        """,
}


def test_a_function_importing_modules_by_name_at_import_time_is_watched_to_see_what_it_read(
    project: Project,
) -> None:
    project.write(_REGISTRY)
    project.baseline()
    # `build` read shapes.area only: a change elsewhere reaches the tests that use it.
    project.edit("limits.py", "def other(x=OTHER):", "def other(x=OTHER + 1):")
    assert ran(project.diff()) == ["tests/test_limits.py::test_other"]
    project.edit("limits.py", "def other(x=OTHER + 1):", "def other(x=OTHER):")
    project.edit("shapes.py", "def perimeter(side=3):", "def perimeter(side=4):")
    assert ran(project.diff()) == ["tests/test_shapes.py::test_perimeter"]
    # What it reads changed (the name is in SPECS too, and `build` writes TABLE at import).
    project.edit("shapes.py", "def perimeter(side=4):", "def perimeter(side=3):")
    project.edit("shapes.py", "def area(side=3):", "def area(side=4):")
    assert len(ran(project.diff())) == 4


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param("KEPT.append(module)", "it kept hold of module shapes", id="keeps-the-module"),
        pytest.param(
            "TABLE.update({n: getattr(module, n) for n in dir(module)})",
            "it listed the names of shapes.py",
            id="lists-its-names",
        ),
        pytest.param(
            "setattr(module, 'registered', True)",
            "it set registered on shapes.py",
            id="sets-an-attribute",
        ),
    ],
)
def test_a_function_importing_modules_by_name_that_does_more_than_read_named_attributes_runs_every_importer(
    project: Project, body: str, why: str
) -> None:
    registry = (
        _REGISTRY["registry.py"]
        .replace(
            "TABLE[name] = getattr(module, name)",
            f"TABLE[name] = getattr(module, name)\n                {body}",
        )
        .replace("TABLE = {}", "TABLE = {}\n        KEPT = []")
    )
    project.write({**_REGISTRY, "registry.py": registry})
    project.baseline()
    project.edit("limits.py", "def other(x=OTHER):", "def other(x=OTHER + 1):")
    result = project.diff("--diff-v")
    assert len(ran(result)) == 4
    result.stdout.fnmatch_lines(
        [f"*registry.py::build imports modules by name at import time, and {why}"]
    )


def test_a_test_that_itself_calls_a_function_importing_modules_by_name_runs_for_any_import_time_edit(
    project: Project,
) -> None:
    project.write(
        {
            **_REGISTRY,
            "tests/test_build.py": """
                from pkg import registry

                def test_build_again():
                    registry.build({"limits": ["limit"]})
                    assert registry.TABLE["limit"]() == 10
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    assert ran(project.diff()) == [
        "tests/test_build.py::test_build_again",
        "tests/test_limits.py::test_limit",
    ]


def test_a_module_copying_another_modules_names_under_new_ones_at_import_runs_its_importers(
    project: Project,
) -> None:
    project.write(
        {
            **LIMITS,
            "lower.py": """
                globals().update(
                    {k.lower(): v for k, v in vars(__import__("limits")).items() if k.isupper()}
                )
                """,
            "tests/test_lower.py": """
                from lower import limit

                def test_lowered():
                    assert limit == 10
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    assert ran(project.diff()) == [
        "tests/test_limits.py::test_double",
        "tests/test_limits.py::test_limit",
        "tests/test_lower.py::test_lowered",
    ]


def test_code_nested_in_a_watched_function_is_watched_when_it_runs_later(project: Project) -> None:
    project.write(
        {
            **_REGISTRY,
            "registry.py": """
                from importlib import import_module

                TABLE = {}

                def make_loader():
                    def load(module_name, name):
                        TABLE[name] = getattr(import_module(module_name), name)

                    return load
                """,
            "pkg.py": """
                import limits
                import registry
                import shapes

                load = registry.make_loader()
                load("lim" + "its", "LIM" + "IT")
                """,
            "tests/test_shapes.py": """
                from pkg import shapes

                def test_area():
                    assert shapes.area() == 9

                def test_perimeter():
                    assert shapes.perimeter() == 12
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    result = project.diff("--diff-v")
    assert len(ran(result)) == 4
    result.stdout.fnmatch_lines(
        [
            "*registry.py::make_loader imports modules by name at import time, and it read LIMIT of limits.py"
        ]
    )


def test_a_watched_function_a_test_module_calls_when_imported_runs_every_importer(
    project: Project,
) -> None:
    project.write(
        {
            **_REGISTRY,
            "tests/test_extra.py": """
                from pkg import registry

                registry.build({"lim" + "its": ["LIM" + "IT"]})

                def test_extra():
                    assert registry.TABLE["LIM" + "IT"] == 10
                """,
        }
    )
    project.baseline()
    project.edit("limits.py", "LIMIT = 10", "LIMIT = 11")
    result = project.diff("--diff-v")
    assert "tests/test_extra.py::test_extra" in ran(result)
    result.stdout.fnmatch_lines(["*registry.py::build may be called by a test module or conftest*"])


def test_a_function_run_at_import_and_by_a_test_counts_as_one_changed_block(
    project: Project,
) -> None:
    project.write(
        {
            "reg.py": """
                def make():
                    return 1

                MADE = make()
                """,
            "tests/test_reg.py": """
                import reg

                def test_calls():
                    assert reg.make() == 1

                def test_imports():
                    assert reg.MADE == 1
                """,
        }
    )
    project.baseline()
    project.edit("reg.py", "return 1", "return 2")
    result = project.diff()
    assert ran(result) == ["tests/test_reg.py::test_calls", "tests/test_reg.py::test_imports"]
    result.stdout.fnmatch_lines(["difftest: 1 changed block in 1 file; 2 of 2 tests selected"])


def test_a_watched_function_runs_every_importer_when_a_test_modules_facts_are_unknown(
    project: Project,
) -> None:
    # Whether a test module calls the watched function cannot be told without its facts (a
    # baseline merged from a run that did not store them, say): the watch does not narrow.
    project.write(_REGISTRY)
    project.baseline()
    project.sql("DELETE FROM names WHERE key = 'tests/test_shapes.py'")
    project.edit("limits.py", "def other(x=OTHER):", "def other(x=OTHER + 1):")
    result = project.diff("--diff-v")
    assert len(ran(result)) == 4
    result.stdout.fnmatch_lines(["*registry.py::build may be called by a test module or conftest*"])
