"""Deterministic source mutants for the mutation benchmark.

Each mutant is one small textual edit found through the AST and applied by byte offset, so the
rest of the file keeps its formatting. Two scopes:

* ``function-body``: a comparison flipped (``<`` to ``<=``, ``==`` to ``!=``, ``in`` to
  ``not in``...), an arithmetic operator swapped, ``and``/``or`` swapped, or a constant changed,
  inside a function or method body;
* ``import-time``: code that runs when the module is imported: a module constant, a class
  attribute, a default argument value, or a decorator (an argument of it changed: a constant
  edited, a name replaced by ``None``; or, where no decorator takes arguments, the decorator
  removed).

Candidates are sorted by position and sampled with a seeded ``random.Random`` per project and
kind, so the same seed gives the same mutants on every machine.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FUNCTION_KINDS = ("compare", "binop", "boolop", "constant")
IMPORT_TIME_KINDS = ("module-constant", "class-attribute", "default-argument", "decorator")

_COMPARE_FLIP: dict[type[ast.cmpop], tuple[str, str]] = {
    # op -> (regex that finds it in the gap between the operands, replacement)
    ast.Eq: (r"==", "!="),
    ast.NotEq: (r"!=", "=="),
    ast.Lt: (r"(?<![<>=!])<(?![<=])", "<="),
    ast.LtE: (r"<=", "<"),
    ast.Gt: (r"(?<![<>=-])>(?![>=])", ">="),
    ast.GtE: (r">=", ">"),
    ast.IsNot: (r"\bis\s+not\b", "is"),
    ast.Is: (r"\bis\b", "is not"),
    ast.NotIn: (r"\bnot\s+in\b", "in"),
    ast.In: (r"\bin\b", "not in"),
}
_BINOP_FLIP: dict[type[ast.operator], tuple[str, str]] = {
    ast.Add: (r"(?<![+*/=<>])\+(?![+=])", "-"),
    ast.Sub: (r"(?<![-*/=<>])-(?![-=>])", "+"),
    ast.Mult: (r"(?<![*])\*(?![*=])", "+"),
    ast.FloorDiv: (r"//", "*"),
    ast.Div: (r"(?<![/])/(?![/=])", "*"),
    ast.Mod: (r"%", "//"),
    ast.BitAnd: (r"&", "|"),
    ast.BitOr: (r"\|", "&"),
    ast.LShift: (r"<<", ">>"),
    ast.RShift: (r">>", "<<"),
}
_BOOLOP_FLIP: dict[type[ast.boolop], tuple[str, str]] = {
    ast.And: (r"\band\b", "or"),
    ast.Or: (r"\bor\b", "and"),
}


@dataclass(frozen=True)
class Mutant:
    """One edit of one file: bytes ``start:end`` of ``path`` become ``after``."""

    id: str
    path: str  # root-relative POSIX path
    line: int
    kind: str
    scope: str  # "function-body" | "import-time"
    where: str  # qualified name of the enclosing function or class, or "<module>"
    start: int
    end: int
    before: str
    after: str

    def apply(self, source: bytes) -> bytes:
        current = source[self.start : self.end].decode("utf-8")
        if current != self.before:
            raise ValueError(f"{self.id}: expected {self.before!r} at {self.path}:{self.line}")
        return source[: self.start] + self.after.encode("utf-8") + source[self.end :]

    def describe(self) -> str:
        after = f"`{self.after}`" if self.after else "(removed)"
        return f"{self.path}:{self.line} in {self.where} [{self.scope}/{self.kind}]: `{self.before}` -> {after}"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "path": self.path,
            "line": self.line,
            "kind": self.kind,
            "scope": self.scope,
            "where": self.where,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class _Candidate:
    path: str
    line: int
    kind: str
    scope: str
    where: str
    start: int
    end: int
    before: str
    after: str


class _Offsets:
    """(line, utf-8 column) -> byte offset into the file."""

    def __init__(self, source: bytes) -> None:
        self.starts = [0]
        for i, byte in enumerate(source):
            if byte == 0x0A:
                self.starts.append(i + 1)

    def of(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col


def _new_constant(value: object) -> str | None:
    if isinstance(value, bool):
        return repr(not value)
    if isinstance(value, int):
        return repr(value + 1)
    if isinstance(value, float):
        return repr(value + 1.0)
    if isinstance(value, str) and len(value) <= 40 and "\n" not in value:
        return repr(value + "_mut" if value else "mut")
    return None


def _is_dunder_target(node: ast.Assign | ast.AnnAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return any(isinstance(t, ast.Name) and t.id.startswith("__") for t in targets)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                ids.add(id(body[0].value))
    return ids


class _Finder:
    def __init__(self, path: str, source: bytes) -> None:
        self.path = path
        self.source = source
        self.offsets = _Offsets(source)
        self.tree = ast.parse(source)
        self.docstrings = _docstring_nodes(self.tree)
        self.in_fstring: set[int] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.JoinedStr):
                self.in_fstring.update(id(n) for n in ast.walk(node))
        self.found: list[_Candidate] = []

    # -------------------------------------------------------------- helpers
    def _span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offsets.of(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offsets.of(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def _add(
        self, kind: str, scope: str, where: str, line: int, start: int, end: int, after: str
    ) -> None:
        before = self.source[start:end].decode("utf-8")
        self.found.append(
            _Candidate(self.path, line, kind, scope, where, start, end, before, after)
        )

    def _constant(self, node: ast.AST, kind: str, scope: str, where: str) -> None:
        if not isinstance(node, ast.Constant) or id(node) in self.docstrings:
            return
        if id(node) in self.in_fstring:
            return
        after = _new_constant(node.value)
        if after is None:
            return
        start, end = self._span(node)
        self._add(kind, scope, where, node.lineno, start, end, after)

    def _constants_in(self, node: ast.AST | None, kind: str, scope: str, where: str) -> None:
        if node is None:
            return
        for sub in ast.walk(node):
            self._constant(sub, kind, scope, where)

    def _operator(
        self, left: ast.AST, right: ast.AST, pattern: str, repl: str, kind: str, where: str
    ) -> None:
        _, gap_start = self._span(left)
        gap_end, _ = self._span(right)
        gap = self.source[gap_start:gap_end].decode("utf-8")
        found = re.search(pattern, gap)
        if found is None or "#" in gap:
            return
        start = gap_start + len(gap[: found.start()].encode("utf-8"))
        end = gap_start + len(gap[: found.end()].encode("utf-8"))
        line = left.end_lineno  # type: ignore[attr-defined]
        self._add(kind, "function-body", where, line, start, end, repl)

    # -------------------------------------------------------------- walking
    def run(self) -> list[_Candidate]:
        self._statements(self.tree.body, "module", "<module>")
        return self.found

    def _statements(self, body: Iterable[ast.stmt], ctx: str, where: str) -> None:
        for stmt in body:
            self._statement(stmt, ctx, where)

    def _statement(self, stmt: ast.stmt, ctx: str, where: str) -> None:
        import_time = ctx != "function"
        prefix = "" if where == "<module>" else where + "."
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + stmt.name if import_time else where
            for deco in stmt.decorator_list:
                if import_time:
                    self._decorator(deco, where)
                else:
                    self._body(deco, where)
            for default in [*stmt.args.defaults, *stmt.args.kw_defaults]:
                if default is None:
                    continue
                if import_time:
                    self._constants_in(default, "default-argument", "import-time", where)
                else:
                    self._body(default, where)
            for sub in stmt.body:
                self._body(sub, name)
            return
        if isinstance(stmt, ast.ClassDef):
            name = prefix + stmt.name if import_time else where
            if import_time:
                for deco in stmt.decorator_list:
                    self._decorator(deco, where)
                self._statements(stmt.body, "class", name)
            else:
                self._body(stmt, where)
            return
        if ctx == "function":
            self._body(stmt, where)
            return
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            if _is_dunder_target(stmt):
                return
            kind = "module-constant" if ctx == "module" else "class-attribute"
            self._constants_in(stmt.value, kind, "import-time", where)
            return
        if isinstance(stmt, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                self._statements(getattr(stmt, field, []), ctx, where)
            for handler in getattr(stmt, "handlers", []):
                self._statements(handler.body, ctx, where)

    def _decorator(self, deco: ast.expr, where: str) -> None:
        if isinstance(deco, ast.Call):
            for arg in [*deco.args, *(k.value for k in deco.keywords)]:
                if isinstance(arg, ast.Constant):
                    self._constant(arg, "decorator", "import-time", where)
                elif isinstance(arg, (ast.Name, ast.Attribute)):
                    start, end = self._span(arg)
                    self._add("decorator", "import-time", where, arg.lineno, start, end, "None")
            return
        if isinstance(deco, (ast.Name, ast.Attribute)):
            start, end = self._span(deco)
            at = self.source.rfind(b"@", 0, start)
            if at >= 0 and not self.source[at + 1 : start].strip():
                self._add("decorator", "import-time", where, deco.lineno, at, end, "")

    def _body(self, node: ast.AST, where: str) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Compare) and id(sub) not in self.in_fstring:
                flip = _COMPARE_FLIP.get(type(sub.ops[0]))
                if flip:
                    self._operator(sub.left, sub.comparators[0], *flip, "compare", where)
            elif isinstance(sub, ast.BinOp) and id(sub) not in self.in_fstring:
                flip2 = _BINOP_FLIP.get(type(sub.op))
                if flip2:
                    self._operator(sub.left, sub.right, *flip2, "binop", where)
            elif isinstance(sub, ast.BoolOp) and id(sub) not in self.in_fstring:
                flip3 = _BOOLOP_FLIP.get(type(sub.op))
                if flip3:
                    self._operator(sub.values[0], sub.values[1], *flip3, "boolop", where)
            elif isinstance(sub, ast.Constant):
                self._constant(sub, "constant", "function-body", where)


def _python_files(root: Path, dirs: Iterable[str], exclude: Iterable[str]) -> Iterator[str]:
    excluded = tuple(e.rstrip("/") + "/" for e in exclude)
    for d in dirs:
        for path in sorted((root / d).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if not rel.startswith(excluded) and "/tests/" not in f"/{rel}":
                yield rel


def candidates(root: Path, dirs: Iterable[str], exclude: Iterable[str] = ()) -> list[_Candidate]:
    """Every mutation point of the .py files under ``dirs`` (tests excluded), in file order."""
    found: list[_Candidate] = []
    seen: set[tuple[str, int, str, str, str]] = set()
    for rel in _python_files(root, dirs, exclude):
        source = (root / rel).read_bytes()
        try:
            file_candidates = _Finder(rel, source).run()
        except SyntaxError:
            continue
        for cand in file_candidates:
            key = (cand.path, cand.line, cand.kind, cand.before, cand.after)
            if key not in seen:  # the same edit twice on one line reads as one mutant
                seen.add(key)
                found.append(cand)
    return found


def _valid(source: bytes, candidate: _Candidate) -> bool:
    mutated = source[: candidate.start] + candidate.after.encode() + source[candidate.end :]
    try:
        return ast.dump(ast.parse(mutated)) != ast.dump(ast.parse(source))
    except SyntaxError:
        return False


def generate(
    project: str,
    root: Path,
    dirs: Iterable[str],
    count: int,
    seed: int,
    exclude: Iterable[str] = (),
    import_time_share: float = 0.5,
) -> list[Mutant]:
    """``count`` mutants of the project at ``root``: about ``import_time_share`` of them at
    import time (spread evenly over the four import-time kinds), the rest in function bodies."""
    pool = candidates(root, dirs, exclude)
    sources: dict[str, bytes] = {}
    by_kind: dict[str, list[_Candidate]] = {}
    for cand in pool:
        if cand.path not in sources:
            sources[cand.path] = (root / cand.path).read_bytes()
        by_kind.setdefault(cand.kind, []).append(cand)

    n_import = round(count * import_time_share)
    wanted = _spread(n_import, IMPORT_TIME_KINDS, by_kind)
    wanted.update(_spread(count - sum(wanted.values()), FUNCTION_KINDS, by_kind))

    chosen: list[_Candidate] = []
    for kind in (*IMPORT_TIME_KINDS, *FUNCTION_KINDS):
        options = _interleave_files(
            by_kind.get(kind, []), random.Random(f"{seed}:{project}:{kind}")
        )
        taken = 0
        for cand in options:
            if taken >= wanted.get(kind, 0):
                break
            if _valid(sources[cand.path], cand):
                chosen.append(cand)
                taken += 1
    chosen.sort(key=lambda c: (c.scope != "import-time", c.path, c.start))
    return [
        Mutant(
            id=f"{project}#{i:02d}",
            path=c.path,
            line=c.line,
            kind=c.kind,
            scope=c.scope,
            where=c.where,
            start=c.start,
            end=c.end,
            before=c.before,
            after=c.after,
        )
        for i, c in enumerate(chosen, 1)
    ]


def _interleave_files(cands: list[_Candidate], rng: random.Random) -> list[_Candidate]:
    """A seeded order that takes one candidate from each file in turn, so a file with many
    mutation points (a large table of constants) does not crowd out the others."""
    per_file: dict[str, list[_Candidate]] = {}
    for cand in cands:
        per_file.setdefault(cand.path, []).append(cand)
    files = sorted(per_file)
    rng.shuffle(files)
    for path in files:
        rng.shuffle(per_file[path])
    order: list[_Candidate] = []
    while any(per_file.values()):
        for path in files:
            if per_file[path]:
                order.append(per_file[path].pop())
    return order


def _spread(
    total: int, kinds: tuple[str, ...], by_kind: dict[str, list[_Candidate]]
) -> dict[str, int]:
    """Split ``total`` over ``kinds`` as evenly as their candidate counts allow."""
    wanted = dict.fromkeys(kinds, 0)
    available = {k: len(by_kind.get(k, [])) for k in kinds}
    remaining = min(total, sum(available.values()))
    while remaining > 0:
        open_kinds = [k for k in kinds if wanted[k] < available[k]]
        for kind in open_kinds:
            if remaining == 0:
                break
            wanted[kind] += 1
            remaining -= 1
    return wanted
