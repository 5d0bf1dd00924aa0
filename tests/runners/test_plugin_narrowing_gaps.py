"""Import-time edits whose effect reaches tests by ways the names they bind do not show: a
docstring read through ``__doc__``, an enum whose members run project code when the class is
created, a module ``__getattr__``, tests that a test module takes from a helper by import, a
mutation through an alias, ``getattr`` handed on as a value."""

from __future__ import annotations

from pytester_project import Project, ran


def test_a_module_docstring_edit_runs_the_tests_whose_code_reads_the_modules_doc(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/cli.py": '''
                """Frobnicate the widgets."""

                import argparse

                def build_parser():
                    return argparse.ArgumentParser(prog="frob", description=__doc__)

                def plain():
                    return 1
                ''',
            "tests/test_cli.py": """
                from pkg.cli import build_parser, plain

                def test_help_mentions_widgets():
                    assert "widgets" in build_parser().format_help()

                def test_plain():
                    assert plain() == 1
                """,
        }
    )
    project.baseline()
    project.edit("pkg/cli.py", "the widgets", "the gadgets")
    result = project.diff()
    assert ran(result) == ["tests/test_cli.py::test_help_mentions_widgets"]
    result.assert_outcomes(failed=1)


def test_a_class_attribute_edit_is_narrowed_though_the_docstring_names_the_class_and_code_copies_docs(
    project: Project,
) -> None:
    """The docstring's words are text: its example naming the class passes no change on to
    ``__doc__``, which a module copying docstrings at import time would then use."""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/ranges.py": '''
                class span:
                    """A span of numbers, 0, 1, 2 for

                    >>> span(3).size()
                    3
                    """

                    EMPTY = 0

                    def __init__(self, stop):
                        self.stop = stop

                    def size(self):
                        return self.stop - self.EMPTY
                ''',
            "pkg/recipes.py": """
                import sys

                from pkg.ranges import span

                def _pairs(xs):
                    return list(zip(xs, xs[1:]))

                if sys.version_info >= (3,):  # more than binding: every name in it counts

                    def pairs(xs):
                        return _pairs(xs)

                    pairs.__doc__ = _pairs.__doc__
                else:
                    pairs = _pairs
                """,
            "tests/test_ranges.py": """
                from pkg.ranges import span

                def test_size():
                    assert span(3).size() == 3
                """,
            "tests/test_recipes.py": """
                from pkg.recipes import pairs

                def test_pairs():
                    assert pairs([1, 2, 3]) == [(1, 2), (2, 3)]
                """,
        }
    )
    project.baseline().assert_outcomes(passed=2)
    project.edit("pkg/ranges.py", "EMPTY = 0", "EMPTY = 1")
    result = project.diff()
    assert ran(result) == ["tests/test_ranges.py::test_size"]
    result.assert_outcomes(failed=1)
    project.edit("pkg/ranges.py", "0, 1, 2 for", "0 to 2 for")  # the docstring itself
    assert ran(project.diff()) == [
        "tests/test_ranges.py::test_size",
        "tests/test_recipes.py::test_pairs",
    ]


ENUM = {
    "pkg/__init__.py": "",
    "pkg/status.py": """
        from enum import Enum

        _BY_CODE = {}


        class Status(Enum):
            ACTIVE = (1, "on")
            CLOSED = (2, "shut")

            def __init__(self, code, label):
                self.code = code
                self.label = label
                _BY_CODE[code] = self


        def from_code(code):
            return _BY_CODE[code]
        """,
    "tests/test_status.py": """
        from pkg.status import from_code

        def test_label():
            assert from_code(2).label == "shut"
        """,
}


def test_an_enum_member_edit_runs_the_tests_of_code_its_members_init_fed_at_class_creation(
    project: Project,
) -> None:
    project.write(ENUM)
    project.baseline()
    project.edit("pkg/status.py", '(2, "shut")', '(2, "ended")')
    result = project.diff()
    assert ran(result) == ["tests/test_status.py::test_label"]
    result.assert_outcomes(failed=1)


def test_an_enum_member_edit_runs_the_tests_fed_by_a_local_mixins_init(
    project: Project,
) -> None:
    project.write(
        {
            **ENUM,
            "pkg/status.py": """
                from enum import Enum

                _BY_CODE = {}


                class Registered:
                    def __init__(self, code, label):
                        self.code = code
                        self.label = label
                        _BY_CODE[code] = self


                class Status(Registered, Enum):
                    ACTIVE = (1, "on")
                    CLOSED = (2, "shut")


                def from_code(code):
                    return _BY_CODE[code]
                """,
        }
    )
    project.baseline()
    project.edit("pkg/status.py", '(2, "shut")', '(2, "ended")')
    assert ran(project.diff()) == ["tests/test_status.py::test_label"]


def test_adding_a_module_getattr_runs_every_test_that_imported_the_module(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/consts.py": """
                LIMIT = 10
                """,
            "pkg/feature.py": """
                from pkg import consts

                def debug_enabled():
                    return getattr(consts, "DEBUG", False)
                """,
            "tests/test_feature.py": """
                from pkg.feature import debug_enabled

                def test_debug_off():
                    assert not debug_enabled()
                """,
        }
    )
    project.baseline()
    project.write(
        {
            "pkg/consts.py": """
                LIMIT = 10

                _FALLBACKS = {"DEBUG": True}

                def __getattr__(name):
                    try:
                        return _FALLBACKS[name]
                    except KeyError:
                        raise AttributeError(name) from None
                """,
        }
    )
    result = project.diff()
    assert ran(result) == ["tests/test_feature.py::test_debug_off"]
    result.assert_outcomes(failed=1)


def test_a_test_added_to_a_helper_that_a_test_module_star_imports_is_collected_and_run(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/core.py": """
                def double(x):
                    return x * 2
                """,
            "tests/shared_checks.py": """
                from pkg.core import double

                def test_double_one():
                    assert double(1) == 2
                """,
            "tests/test_core.py": """
                from shared_checks import *  # noqa: F401,F403
                """,
        }
    )
    project.baseline()
    project.write(
        {
            "tests/shared_checks.py": """
                from pkg.core import double

                def test_double_one():
                    assert double(1) == 2

                def test_double_two():
                    assert double(2) == 5
                """,
        }
    )
    result = project.diff()
    assert "tests/test_core.py::test_double_two" in ran(result)
    result.assert_outcomes(failed=1, passed=len(ran(result)) - 1)


def test_a_test_added_to_a_helper_class_that_a_test_module_imports_under_a_test_name_is_run(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/core.py": """
                def double(x):
                    return x * 2
                """,
            "tests/checks.py": """
                from pkg.core import double

                class DoubleChecks:
                    def test_one(self):
                        assert double(1) == 2
                """,
            "tests/test_core.py": """
                from checks import DoubleChecks as TestDouble  # noqa: F401
                """,
        }
    )
    project.baseline()
    project.edit(
        "tests/checks.py",
        "== 2\n",
        "== 2\n\n    def test_two(self):\n        assert double(2) == 5\n",
    )
    result = project.diff()
    assert "tests/test_core.py::TestDouble::test_two" in ran(result)
    result.assert_outcomes(failed=1, passed=len(ran(result)) - 1)


def test_an_augmented_assignment_through_an_alias_runs_the_tests_that_read_the_aliased_object(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": """
                HANDLERS = {"core": 1}
                _more = HANDLERS
                _more |= {"extra": 2}

                def get_handlers():
                    return sorted(HANDLERS)
                """,
            "tests/test_base.py": """
                from pkg.base import get_handlers

                def test_handlers():
                    assert len(get_handlers()) == 2
                """,
        }
    )
    project.baseline()
    project.edit("pkg/base.py", '_more |= {"extra": 2}', "_more |= {}")
    result = project.diff()
    assert ran(result) == ["tests/test_base.py::test_handlers"]
    result.assert_outcomes(failed=1)


def test_an_augmented_assignment_to_an_imported_list_in_another_module_runs_its_readers(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": """
                HANDLERS = ["core"]

                def get_handlers():
                    return list(HANDLERS)
                """,
            "pkg/plugin.py": """
                from pkg.base import HANDLERS

                _h = HANDLERS
                _h += ["extra"]
                """,
            "tests/test_a.py": """
                import pkg.plugin  # noqa: F401
                from pkg.base import get_handlers

                def test_handlers():
                    assert len(get_handlers()) == 2
                """,
        }
    )
    project.baseline()
    project.edit("pkg/plugin.py", '["extra"]', "[]")
    result = project.diff()
    assert ran(result) == ["tests/test_a.py::test_handlers"]
    result.assert_outcomes(failed=1)


def test_getattr_handed_to_reduce_reads_names_dynamically(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/consts.py": """
                LIMIT = 10
                """,
            "pkg/lookup.py": """
                import functools

                import pkg
                import pkg.consts  # noqa: F401

                def resolve(path):
                    return functools.reduce(getattr, path.split("."), pkg)
                """,
            "tests/spec.json": '{"path": "consts.LIMIT", "expected": 10}',
            "tests/test_lookup.py": """
                import json
                import pathlib

                from pkg.lookup import resolve

                def test_spec():
                    spec = json.loads((pathlib.Path(__file__).parent / "spec.json").read_text())
                    assert resolve(spec["path"]) == spec["expected"]
                """,
        }
    )
    project.baseline()
    project.edit("pkg/consts.py", "LIMIT = 10", "LIMIT = 11")
    result = project.diff()
    assert ran(result) == ["tests/test_lookup.py::test_spec"]
    result.assert_outcomes(failed=1)


def test_getattr_bound_into_a_partial_at_import_time_reads_names_dynamically(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/limits.py": """
                MAX_ITEMS = 10
                MAX_USERS = 5
                """,
            "pkg/check.py": """
                from functools import partial

                from pkg import limits

                limit_for = partial(getattr, limits)

                def within(kind, n):
                    return n <= limit_for("MAX_" + kind.upper())
                """,
            "tests/test_check.py": """
                from pkg.check import within

                def test_users():
                    assert within("users", 5)
                """,
        }
    )
    project.baseline()
    project.edit("pkg/limits.py", "MAX_USERS = 5", "MAX_USERS = 4")
    result = project.diff()
    assert ran(result) == ["tests/test_check.py::test_users"]
    result.assert_outcomes(failed=1)
