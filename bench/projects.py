"""The real projects the benchmarks fetch from PyPI (sdists that ship their test suites)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Project:
    name: str  # PyPI name
    version: str
    #: Folders whose .py files are mutated (test folders inside them are skipped).
    sources: tuple[str, ...]
    #: Arguments naming what pytest collects (relative to the project root).
    test_args: tuple[str, ...]
    #: Test dependencies beyond pytest (installed into the benchmark venvs).
    test_deps: tuple[str, ...] = ()
    #: Mutants drawn in a full run (the quick run takes fewer).
    mutants: int = 20
    why: str = ""

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


PROJECTS: tuple[Project, ...] = (
    Project(
        name="more-itertools",
        version="10.5.0",
        sources=("more_itertools",),
        test_args=("tests",),
        mutants=20,
        why="pure Python, no dependencies; two large modules (more.py imports recipes.py), ~660 tests",
    ),
    Project(
        name="toolz",
        version="1.2.0",
        sources=("toolz",),
        test_args=("toolz",),
        mutants=20,
        why="many small modules importing each other (curried/ re-exports everything): import-graph effects",
    ),
    Project(
        name="boltons",
        version="26.2.0",
        sources=("boltons",),
        test_args=("tests",),
        mutants=20,
        why="30 mostly independent modules with class-heavy code, one test file each, ~520 tests",
    ),
)


def by_name(names: list[str] | None) -> list[Project]:
    if not names:
        return list(PROJECTS)
    known = {p.name: p for p in PROJECTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown project(s) {unknown}; known: {sorted(known)}")
    return [known[n] for n in names]
