"""Split a Python source file into blocks and fingerprint each one.

A file yields:
- the module block (``<module>``): module-level statements plus the decorators, signatures,
  defaults and docstrings of module-level functions, with class bodies reduced to their header;
- one class block per class (``Class``, ``Outer.Inner``): the class body with method bodies cut
  out, so class attributes, dataclass fields, enum members and method decorators count;
- one function block per function or method (nested functions belong to the enclosing one);
- a ``<docstrings>`` block (kind "doctests") when the module's or a class's docstring holds
  doctest examples: the code of those doctests, which only they depend on.

Module and class blocks run at import time: a test that imported the module depends on all of
them. A function block is a dependency of the tests that executed a line of its body.
Fingerprints are taken over the AST without positions: formatting and comments do not count.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Union

from difftest.errors import SourceError
from difftest.model import DOCSTRINGS_BLOCK, MODULE_BLOCK, Block, digest

_FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]
_CONTAINERS = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.While)


@dataclass(frozen=True)
class FileBlocks:
    """The blocks of one parsed file, with a fast line -> function lookup."""

    blocks: tuple[Block, ...]
    _functions: tuple[Block, ...]

    @property
    def import_blocks(self) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.kind in ("module", "class"))

    def doctest_blocks(self) -> tuple[Block, ...]:
        """What a doctest of this file depends on besides what it runs: the module and class
        docstrings holding examples (function docstrings are in the functions' blocks)."""
        return tuple(b for b in self.blocks if b.kind in ("doctests", "function"))

    def by_name(self) -> dict[str, Block]:
        return {b.name: b for b in self.blocks}

    def function_at(self, line: int) -> Block | None:
        """The function block whose body contains ``line``, or None for import-time lines."""
        found = self.functions_at((line,))
        return found[0] if found else None

    @cached_property
    def _function_by_line(self) -> tuple[int, ...]:
        # Function bodies do not overlap (nested functions belong to the enclosing one), so one
        # index per line answers the recorder's many lookups without a search each.
        last = max((b.end for b in self._functions), default=0)
        table = [-1] * (last + 1)
        for i, block in enumerate(self._functions):
            table[block.start : block.end + 1] = [i] * (block.end - block.start + 1)
        return tuple(table)

    def functions_at(self, lines: Iterable[int]) -> list[Block]:
        """The function blocks whose bodies contain any of ``lines``, in order of appearance."""
        table = self._function_by_line
        size = len(table)
        hit = {table[line] for line in lines if 0 <= line < size}
        hit.discard(-1)
        return [self._functions[i] for i in sorted(hit)]


def _dump(node: ast.AST) -> bytes:
    return ast.dump(node, annotate_fields=False, include_attributes=False).encode()


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _walk_defs(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.stmt]]:
    """Module- and class-level defs with qualified names. Class bodies are walked into, function
    bodies are not; defs under import-level `if`/`try`/`with` keep the enclosing prefix."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
        elif isinstance(node, ast.ClassDef):
            yield prefix + node.name, node
            yield from _walk_defs(node.body, prefix + node.name + ".")
        elif isinstance(node, _CONTAINERS):
            for field in ("body", "orelse", "finalbody"):
                yield from _walk_defs(getattr(node, field, None) or [], prefix)
            for handler in getattr(node, "handlers", None) or []:
                yield from _walk_defs(handler.body, prefix)


def block_defs(tree: ast.Module) -> Iterator[tuple[str, ast.stmt]]:
    """The classes and functions that are blocks of their own, with their block names."""
    seen: dict[str, int] = {}
    for qualname, node in _walk_defs(tree.body, ""):
        # Property setters, overloads and conditional definitions reuse a name: number the
        # repeats by order of appearance so that each keeps a stable identity.
        seen[qualname] = seen.get(qualname, 0) + 1
        if seen[qualname] > 1:
            qualname = f"{qualname}#{seen[qualname]}"
        yield qualname, node


_MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "update",
        "setdefault",
        "add",
        "pop",
        "popitem",
        "clear",
        "remove",
        "discard",
        "__setitem__",
        "__delitem__",
    }
)


_CONTEXTS = (ast.Load, ast.Store, ast.Del)


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` (in no particular order): :func:`ast.walk` without its
    per-node generators and the ``Load``/``Store`` markers, several times faster."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        push_children(stack, current)


def push_children(stack: list[ast.AST], node: ast.AST) -> None:
    """Put ``node``'s child nodes on ``stack``, ``Load``/``Store`` markers left out."""
    for name in node._fields:
        value = getattr(node, name, None)
        if type(value) is list:
            # Lists hold nodes, except names (`global a, b`) and None (`{**d}` keys).
            stack.extend(v for v in value if isinstance(v, ast.AST))
        elif isinstance(value, ast.AST) and not isinstance(value, _CONTEXTS):
            stack.append(value)


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


_Scope = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]


class _Code:
    """What the code of one function or lambda does, nested ones included (as :func:`walk` of it
    sees it: decorators, signature and body)."""

    __slots__ = ("calls", "has_global", "has_nonlocal", "nested", "node", "stores", "targets")

    def __init__(self, node: _Scope) -> None:
        self.node = node
        #: Names it binds (``Store`` context); parameters are not among them.
        self.stores: set[str] = set()
        #: What it writes into: attribute and item targets of assignments and deletions, and
        #: the objects of mutating method calls (``x.append``: ``x``).
        self.targets: list[ast.expr] = []
        #: Names of what it calls that may be functions of its own file (``f()``, ``self.f()``,
        #: ``cls.f()``).
        self.calls: list[str] = []
        #: The functions and lambdas defined inside it, at any depth.
        self.nested: list[_Scope] = []
        self.has_global = False
        self.has_nonlocal = False

    def bound(self) -> set[str]:
        """Its parameters and the names it binds itself (nested functions' included)."""
        return _params(self.node) | self.stores


def _written(node: ast.AST) -> list[ast.expr]:
    """The attribute and item targets ``node`` itself (not its children) writes into."""
    kind = type(node)
    if kind is ast.Assign or kind is ast.Delete:
        targets = node.targets  # type: ignore[attr-defined]
    elif kind is ast.AugAssign or kind is ast.AnnAssign:
        targets = [node.target]  # type: ignore[attr-defined]
    elif kind is ast.Call:
        func = node.func  # type: ignore[attr-defined]
        if type(func) is not ast.Attribute or func.attr not in _MUTATORS:
            return []
        targets = [func]
    else:
        return []
    return [t for t in targets if type(t) is ast.Attribute or type(t) is ast.Subscript]


#: The :class:`_Code` index of each tree analysed, while the tree lives.
_INDEXES: weakref.WeakKeyDictionary[ast.AST, dict[int, _Code]] = weakref.WeakKeyDictionary()


def _code_index(tree: ast.Module) -> dict[int, _Code]:
    """The :class:`_Code` of each function and lambda of ``tree``, by ``id``, from one walk of
    it: the analyses below ask about every function and its nested functions, and walking each
    function on its own walked nested code again for every function enclosing it."""
    found = _INDEXES.get(tree)
    if found is not None:
        return found
    found = {}
    order: list[tuple[_Code, _Code | None]] = []
    stack: list[tuple[ast.AST, _Code | None]] = [(tree, None)]
    children: list[ast.AST] = []
    while stack:
        node, owner = stack.pop()
        kind = type(node)
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.Lambda:
            code = _Code(node)  # type: ignore[arg-type]
            found[id(node)] = code
            order.append((code, owner))
            owner = code
        if owner is not None:
            if kind is ast.Name:
                if type(node.ctx) is ast.Store:  # type: ignore[attr-defined]
                    owner.stores.add(node.id)  # type: ignore[attr-defined]
            elif kind is ast.Global:
                owner.has_global = True
            elif kind is ast.Nonlocal:
                owner.has_nonlocal = True
            else:
                if kind is ast.Call:
                    callee = node.func  # type: ignore[attr-defined]
                    if type(callee) is ast.Name:
                        owner.calls.append(callee.id)
                    elif type(callee) is ast.Attribute and _root_name(callee) in ("self", "cls"):
                        owner.calls.append(callee.attr)
                owner.targets += _written(node)
        push_children(children, node)
        stack.extend((child, owner) for child in children)
        children.clear()
    # Each function was found before the functions it holds: in reverse, each is complete by
    # the time it is added to the one holding it.
    for code, owner in reversed(order):
        if owner is not None:
            owner.stores |= code.stores
            owner.targets += code.targets
            owner.calls += code.calls
            owner.nested += [code.node, *code.nested]
            owner.has_global = owner.has_global or code.has_global
            owner.has_nonlocal = owner.has_nonlocal or code.has_nonlocal
    _INDEXES[tree] = found
    return found


def _module_names(tree: ast.Module) -> set[str]:
    """Names bound at module level (assignments, defs, classes, and names a function declares
    ``global``), and imported modules wherever they are imported (a module is shared whoever
    names it)."""
    names: set[str] = set()
    # Definitions and imports are statements: walking statements alone finds them all, without
    # visiting the expressions that make up most of a tree. A def or class inside a function or
    # class body is no module-level name (a closure's `wrapper`, a method).
    stack: list[tuple[ast.AST, bool]] = [(node, True) for node in tree.body]
    while stack:
        node, top = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if top:
                names.add(node.name)
            top = False
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Global):
            names.update(node.names)  # bound at module level by the function that declares it
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend((child, top) for child in getattr(node, field, None) or ())
    for node in tree.body:
        for target in getattr(node, "targets", None) or [getattr(node, "target", None)]:
            if isinstance(target, ast.Name):
                names.add(target.id)
    return names


#: Values that may be an existing object rather than a new one: a name bound to one of them may
#: alias shared state (``cache = _CACHE``).
_ALIASING = (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.NamedExpr, ast.IfExp, ast.BoolOp)


def _plain_locals(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names that ``func`` only ever binds to a new object it builds itself (``x = [0] * n``):
    whatever they share a name with, they are not that state. Parameters, loop and ``with``
    targets, imports and names bound to an existing object may all be shared state."""
    fresh_targets: set[int] = set()
    for node in walk(func):
        if (
            isinstance(node, (ast.Assign, ast.AnnAssign))
            and node.value is not None
            and not isinstance(node.value, _ALIASING)
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            fresh_targets.update(id(t) for t in targets if isinstance(t, ast.Name))
    fresh: set[str] = set()
    other: set[str] = set()
    for node in walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            (fresh if id(node) in fresh_targets else other).add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            other.update(node.names)
    other.update(_params(func))
    return fresh - other


def _carries_state(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    code: _Code,
    shared: set[str],
    class_level: Collection[str] = (),
) -> bool:
    """Whether calling ``func`` (``code``: its :class:`_Code`) can leave state that a later test
    reads without running ``func``: a memoizing decorator, or a write to module-level (or
    class-level) state. Such a body is kept in the import-time block, so every test that
    imported the module depends on it."""
    return _memoized(func) or _writes_state(func, code, shared, class_level)


def _decorators(func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.expr]:
    """What decorates ``func``: ``@memo`` and ``@memo(size=2)`` both give ``memo``."""
    for dec in func.decorator_list:
        yield dec.func if isinstance(dec, ast.Call) else dec


def _memoized(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for target in _decorators(func):
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if "cache" in name.lower() or "memo" in name.lower():
            return True
    return False


def _writes_state(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    code: _Code,
    shared: set[str],
    class_level: Collection[str] = (),
) -> bool:
    """Whether ``func`` writes into what outlives a call: module state, class state (through
    ``cls``, or into a class-level attribute, ``self._cache[key] = ...``), a parameter's default
    (``def get(key, _memo={})``), or a local bound to one of those (``cache = _CACHE``).
    ``class_level``: the names class bodies of the module bind to objects that may change."""
    if code.has_global or code.has_nonlocal:
        return True
    # A local bound only to objects the function builds (`result = [0] * n`) is not module
    # state, even when it shares a module-level name: `result[i] = x` writes nothing shared.
    # The locals take another walk of the function: only done once a write to such a name is seen.
    plain_locals: set[str] | None = None
    kept: set[str] | None = None
    aliases: set[str] | None = None
    for target in code.targets:
        if _into_attribute(target, class_level):
            return True
        if (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Call)
            and getattr(target.value.func, "id", None) in ("globals", "vars")
        ):
            return True  # `globals()[name] = value`: a module-level name, by another route
        root = _root_name(target)
        if root == "cls":
            return True
        if root in shared:
            if plain_locals is None:
                plain_locals = _plain_locals(func)
            if root not in plain_locals:
                return True
        elif root is not None:
            if kept is None:
                kept = _kept_defaults(func)
            if root in kept:
                return True
            if aliases is None:
                aliases = _state_aliases(func, shared | kept | {"cls"}, class_level)
            if root in aliases:
                return True
    return False


def _immutable(node: ast.expr | None) -> bool:
    """A literal nothing can write into: a constant, or a tuple of such."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.Tuple):
        return all(_immutable(e) for e in node.elts)
    return False


def _kept_defaults(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Parameters whose default is an object made once, when the ``def`` ran (``_memo={}``):
    what a call stores into it, the next call finds."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    pairs = [
        *zip(positional[len(positional) - len(args.defaults) :], args.defaults),
        *zip(args.kwonlyargs, args.kw_defaults),
    ]
    return {arg.arg for arg, default in pairs if default is not None and not _immutable(default)}


def _into_attribute(target: ast.expr, names: Collection[str]) -> bool:
    """``target`` writes into (not rebinds) an attribute named one of ``names``:
    ``self._cache[key]``, ``Memo.data.update``, ``type(self).seen.add``."""
    node = target
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        inner = node.value
        if inner is not target and isinstance(inner, ast.Attribute) and inner.attr in names:
            return True
        node = inner
    return False


def _state_aliases(
    func: ast.FunctionDef | ast.AsyncFunctionDef, roots: set[str], class_level: Collection[str]
) -> set[str]:
    """The locals ``func`` binds to an object reached from ``roots`` or through a class-level
    attribute (``cache = _CACHE``, ``d = Memo.data``, ``seen = self._seen``,
    ``for entry in _ENTRIES``): writing into one writes into that object."""
    found: set[str] = set()
    for node in walk(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            value, targets = (
                node.value,
                (node.targets if isinstance(node, ast.Assign) else [node.target]),
            )
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            value, targets = node.iter, [node.target]
        else:
            continue
        if value is None or not isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)):
            continue
        if _root_name(value) in roots or _reaches_attribute(value, class_level):
            for target in targets:
                found.update(_bound_names(target))
    return found


def _bound_names(target: ast.expr) -> Iterator[str]:
    """The local names an assignment target binds (``a``, ``a, *b``), not those it writes into
    (``self.x``, ``d[k]``)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _bound_names(element)


def _reaches_attribute(node: ast.expr, names: Collection[str]) -> bool:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and node.attr in names:
            return True
        node = node.value
    return False


def _class_level_names(tree: ast.Module) -> set[str]:
    """Names the module's class bodies bind to objects that can be written into (``_cache =
    {}``, ``registry: list[type] = []``; not ``name = "x"``): an instance reaches them as its
    own attributes, and every instance, in every test, shares them."""
    found: set[str] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.ClassDef):
                    stack.append(stmt)
                elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and not _immutable(stmt.value):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    found.update(t.id for t in targets if isinstance(t, ast.Name))
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, field, None) or ())
    return found


#: Callables that keep what they are handed alive with an object they make once: a memo around
#: a function (``lru_cache(maxsize=None)(lambda key: compute(key))``), or arguments bound for
#: every later call (``partial(_get, {})``).
_BINDERS = frozenset({"partial", "partialmethod"})
_CONTAINER_TYPES = frozenset(
    {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "bytearray"}
)


def _made_once(node: ast.expr) -> bool:
    """An expression that makes a new object that can be written into."""
    if isinstance(node, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in _CONTAINER_TYPES
    return False


def _import_time_keepers(tree: ast.Module, code: dict[int, _Code]) -> set[str]:
    """Names of the module's functions whose results or arguments import-time code keeps for
    later calls without a ``def`` to see it: wrapped in a memo there
    (``get = lru_cache()(lambda key: _compute(key))``, ``get = cache(_compute)``), or bound to a
    container made once (``get = partial(_get, {})``)."""
    found: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.Call):
            outer = node.func.func if isinstance(node.func, ast.Call) else node.func
            name = outer.attr if isinstance(outer, ast.Attribute) else getattr(outer, "id", "")
            kept: list[ast.expr] = []
            if "cache" in name.lower() or "memo" in name.lower():
                kept = [*node.args, *(k.value for k in node.keywords)]
            elif name in _BINDERS and any(
                _made_once(a) for a in [*node.args[1:], *(k.value for k in node.keywords)]
            ):
                kept = node.args[:1]
            for value in kept:
                if isinstance(value, ast.Name):
                    found.add(value.id)
                elif isinstance(value, ast.Lambda) and id(value) in code:
                    found.update(code[id(value)].calls)
        push_children(stack, node)
    return found


_CONSTRUCTORS = ("__init__", "__new__", "__post_init__")


class _Keeping:
    """The functions and classes of a module, and the spread of "keeps state between tests" from
    some of them to what they call."""

    def __init__(self, tree: ast.Module) -> None:
        self.code = _code_index(tree)
        self.funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.classes: dict[str, ast.ClassDef] = {}
        self._owner: dict[int, str] = {}
        self._by_name: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for qualname, node in _walk_defs(tree.body, ""):
            if isinstance(node, ast.ClassDef):
                self.classes[qualname] = node
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.funcs.append(node)
                self._owner[id(node)] = qualname.rpartition(".")[0]
                self._by_name.setdefault(node.name, []).append(node)

    def named(self, names: Iterable[str]) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The functions and methods of the module called by one of ``names``."""
        return [f for name in names for f in self._by_name.get(name, ())]

    def spread(
        self, funcs: Iterable[ast.FunctionDef | ast.AsyncFunctionDef], classes: Iterable[str]
    ) -> set[int]:
        """``funcs``, the methods storing on instances of ``classes`` (qualified names), and
        what those call, to a fixed point (whatever a call returns may be what gets stored)."""
        todo = list(funcs)
        shared: set[str] = set()

        def share(name: str) -> None:
            # An instance that outlives a test keeps what its methods store on it, including
            # the methods it inherits from classes of this file.
            if name in self.classes and name not in shared:
                shared.add(name)
                cls = self.classes[name]
                todo.extend(self._self_writers(cls))
                for base in cls.bases:
                    if isinstance(base, ast.Name):
                        share(base.id)

        for name in classes:
            share(name)
        stateful: set[int] = set()
        while todo:
            func = todo.pop()
            if id(func) in stateful:
                continue
            stateful.add(id(func))
            for name in self.code[id(func)].calls:
                todo.extend(self.named((name,)))
                # `cls()` in a classmethod: a singleton of its own class.
                share(self._owner.get(id(func), "") if name == "cls" else name)
        return stateful

    def _self_writers(self, cls: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The methods of ``cls`` that store something on their instance (``self.x = ...``,
        ``self.cache[key] = ...``, ``self.items.append(...)``)."""
        found = []
        for _, node in _walk_defs(cls.body, ""):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = [*node.args.posonlyargs, *node.args.args]
            if params and any(_root_name(t) == params[0].arg for t in self.code[id(node)].targets):
                found.append(node)
        return found


def stateful_functions(tree: ast.Module) -> set[int]:
    """Functions that carry state between tests, plus the module functions they call (whatever
    those return may be what gets stored), to a fixed point. State is module or class state, a
    memo, a closure's variables, or the attributes of an instance of a class of the file that
    such a function makes (a lazily made singleton, ``cls._one = cls()``). Instances made at
    import time are found where they are held, at run time (:func:`instance_state`): that
    narrows to the tests that call their methods."""
    shared = _module_names(tree)
    keeping = _Keeping(tree)
    # What a closure keeps comes from the function it wraps, when its maker decorates one, and
    # from what the storing function calls; the maker's own body runs in the tests that call
    # the closure, which depend on it anyway.
    makers: set[str] = set()
    seeds: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    code = keeping.code
    for func in keeping.funcs:
        keepers = _closure_keepers(code[id(func)], code)
        if keepers:
            makers.add(func.name)
            local = code[id(func)].bound()  # `func(*args)`: the wrapped function, a parameter
            seeds.extend(
                keeping.named(n for k in keepers for n in code[id(k)].calls if n not in local)
            )
    class_level = _class_level_names(tree)
    seeds.extend(
        f
        for f in keeping.funcs
        if _carries_state(f, code[id(f)], shared, class_level) or _decorated_by(f, makers)
    )
    seeds.extend(keeping.named(_import_time_keepers(tree, code)))
    return keeping.spread(seeds, ())


@dataclass(frozen=True)
class InstanceState:
    """What an instance of a class keeps from one method call to the next: ``lines`` holds the body
    lines of each method storing on the instance and of what those call, to a fixed point (a
    ``def`` line runs at import time: it is no line of the function's block); ``readers``, the
    lines of the class's methods other than constructors, which may read what is kept."""

    readers: frozenset[int]
    lines: frozenset[int]


def instance_state(tree: ast.Module, qualname: str) -> InstanceState | None:
    """The :class:`InstanceState` of class ``qualname`` (with its bases in the file), when it has
    any. An instance that outlives a test (a module global, a fixture of session scope) keeps
    what one test stored on it for the tests after it. Constructors do not count as readers: a
    test making an instance of its own reads nothing another test stored."""
    keeping = _Keeping(tree)
    return _instance_state(keeping, qualname) if qualname in keeping.classes else None


def instance_states(tree: ast.Module) -> dict[str, InstanceState]:
    """The :class:`InstanceState` of every class of ``tree`` that has any, by qualified name:
    :func:`instance_state` for each, from one index of the module."""
    keeping = _Keeping(tree)
    found = {name: _instance_state(keeping, name) for name in keeping.classes}
    return {name: state for name, state in found.items() if state is not None}


@dataclass(frozen=True)
class Sharing:
    """How a module's code may carry what one test did over to another: the first lines of the
    functions that may keep what they read (:func:`keeping_lines`), and the state of each class
    that keeps any (:func:`instance_states`)."""

    keeping: frozenset[int]
    states: Mapping[str, InstanceState]


def sharing_of(tree: ast.Module, stateful: set[int] | None = None) -> Sharing:
    """``stateful``: :func:`stateful_functions` of ``tree``, when the caller has it already."""
    return Sharing(keeping_lines(tree, stateful), instance_states(tree))


def _instance_state(keeping: _Keeping, qualname: str) -> InstanceState | None:
    cls = keeping.classes[qualname]
    found = keeping.spread((), (qualname,))
    lines = frozenset(line for f in keeping.funcs if id(f) in found for line in _body_lines(f))
    readers = frozenset(
        line
        for _, method in _walk_defs(cls.body, "")
        if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef))
        and method.name not in _CONSTRUCTORS
        for line in _body_lines(method)
    )
    return InstanceState(readers, lines) if lines and readers else None


def _body_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> range:
    """The lines of ``func``'s body, any of which runs only when it is called. Not one line:
    which statements are reported as run differs (a docstring, `global`, an annotation without
    a value never are; `pass` and `...` only on Python 3.12 and later), and a storing method
    whose first line is never reported was never seen to run."""
    return range(func.body[0].lineno, (func.end_lineno or func.lineno) + 1)


def _closure_keepers(code: _Code, index: dict[int, _Code]) -> list[_Scope]:
    """The functions defined inside ``code``'s function that store into a variable of it
    (``nonlocal``, ``found[key] = ...``, ``found.update(...)``): the closure it returns keeps
    what they store across calls, a home-made memo."""
    if not code.nested:
        return []
    outer = code.bound()
    found: list[_Scope] = []
    for node in code.nested:
        inner = index[id(node)]
        into_outer = {_root_name(t) for t in inner.targets} & outer
        if inner.has_nonlocal or (into_outer and not into_outer <= inner.bound()):
            found.append(node)
    return found


def _params(func: _Scope) -> set[str]:
    args = func.args
    return {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        if a is not None
    }


def _decorated_by(func: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str]) -> bool:
    return any(isinstance(t, ast.Name) and t.id in names for t in _decorators(func))


def first_line(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    """Where a definition starts: its first decorator's line, if any (a code object's
    ``co_firstlineno``)."""
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def keeping_lines(tree: ast.Module, stateful: set[int] | None = None) -> frozenset[int]:
    """The first lines (:func:`first_line`) of the functions of ``tree`` that may keep what they
    read for a later test: those that carry state between tests (:func:`stateful_functions`),
    with the functions and lambdas made inside them (code objects of their own), and any that
    store into an object they were handed or reach by a name they do not bind (an instance, an
    argument, a closure's variable), since a fixture of session or module scope may hand that
    object to every test. ``stateful``: :func:`stateful_functions` of ``tree``, when the caller
    has it already."""
    if stateful is None:
        stateful = stateful_functions(tree)
    lines: set[int] = set()
    for code in _code_index(tree).values():
        node = code.node
        if isinstance(node, ast.Lambda):
            continue
        if id(node) in stateful:
            lines.add(first_line(node))
            for inner in code.nested:
                lines.add(inner.lineno if isinstance(inner, ast.Lambda) else first_line(inner))
        elif _stores_outside(code):
            lines.add(first_line(node))
    return frozenset(lines)


def _stores_outside(code: _Code) -> bool:
    """Whether a function (its :class:`_Code`) stores into an object it was handed (``self``, an
    argument), that it reaches by a name it does not bind (module state, a closure's variable),
    or that a name it binds may stand for (:func:`_own_locals`: ``cache = _CACHE``,
    ``cache = get_cache()``, ``for entry in self.entries``). A local bound to what it builds
    or to a new object a call returns (``found = json.load(fh)``) counts as its own: what it
    stores there is what it returns."""
    own: set[str] | None = None
    for target in code.targets:
        root = _root_name(target)
        if root is None:
            return True  # `make().x = 1`: into whatever the call returned
        if own is None:
            own = _own_locals(code.node)
        if root not in own:
            return True
    return code.has_global or code.has_nonlocal


#: Calls that parse what they are given into new objects, unless called on ``self`` or ``cls``:
#: what they return, and the items in it, are the caller's own (``json.load(fh)``).
_PARSED_BY = frozenset(
    {
        "load",
        "loads",
        "safe_load",
        "full_load",
        "read",
        "read_text",
        "read_bytes",
        "readlines",
        "deepcopy",
        "DictReader",
        "reader",
    }
)
#: Calls that return a new container of what they are given (``list(rows)``, ``rows.items()``):
#: the container is the caller's own, its items are as much its own as what it was given.
_CONTAINED_BY = frozenset(
    {
        "dict",
        "list",
        "set",
        "frozenset",
        "tuple",
        "bytearray",
        "sorted",
        "reversed",
        "enumerate",
        "zip",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "deque",
        "SimpleNamespace",
        "copy",
        "items",
        "values",
    }
)


def _new_object(value: ast.expr, own: set[str], *, items: bool = False) -> bool:
    """Whether ``value`` (``items``: each item it holds) is an object no one else holds, given
    the names known to be ``own``: one built here (``[0] * n``), an own name, or what a
    :data:`_PARSED_BY` or :data:`_CONTAINED_BY` call returns."""
    if isinstance(value, ast.Name):
        return value.id in own
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if receiver is not None and _root_name(receiver) in ("self", "cls"):
            return False
        if name in _PARSED_BY:
            return True
        if name not in _CONTAINED_BY:
            return False
        if name in ("items", "values", "copy") and receiver is not None:
            given: list[ast.expr] = [receiver]
        else:
            given = list(value.args)
        return not items or all(_new_object(g, own, items=True) for g in given)
    return not isinstance(value, _ALIASING)


def _own_locals(func: _Scope) -> set[str]:
    """Names ``func`` only ever binds to objects of its own (:func:`_new_object`), loop targets
    over those included (``for row in rows``). Parameters, ``with`` targets, unpacked names,
    names declared global or nonlocal and names bound to an existing object may be shared."""
    binds: list[tuple[str, ast.expr, bool]] = []  # (name, value, bound to each of its items)
    other: set[str] = set(_params(func)) if not isinstance(func, ast.Lambda) else set()
    named: set[int] = set()
    for node in walk(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    named.add(id(t))
                    # `x += more` keeps x what it was: judged by x's other bindings.
                    if not isinstance(node, ast.AugAssign):
                        binds.append((t.id, node.value, False))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            if isinstance(node.target, ast.Name):
                named.add(id(node.target))
                binds.append((node.target.id, node.iter, True))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            other.update(node.names)
    for node in walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and id(node) not in named:
            other.add(node.id)  # unpacked, a `with` target, a walrus, an import...
    own = {name for name, _, _ in binds} - other
    while True:  # a name is own once all its bindings are: `rows = [...]`, `for r in rows`
        now = {n for n in own if all(_new_object(v, own, items=i) for m, v, i in binds if m == n)}
        if now == own:
            return own
        own = now


def memo_only(tree: ast.Module, stateful: set[int]) -> set[int]:
    """The functions of ``stateful`` whose only state is their own decorator's memo (``@cache``,
    ``@cached_property``) and that no other function of ``stateful`` calls: what they keep is
    reached only through their own name (a function whose result another memo keeps is not
    one of them: that memo's readers never mention it)."""
    shared = _module_names(tree)
    code = _code_index(tree)
    funcs = [
        node
        for _, node in _walk_defs(tree.body, "")
        if id(node) in stateful and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    called = {name for func in funcs for name in code[id(func)].calls if name != func.name}
    class_level = _class_level_names(tree)
    return {
        id(f)
        for f in funcs
        if f.name not in called
        and _memoized(f)
        and not _writes_state(f, code[id(f)], shared, class_level)
    }


def _cut(
    node: ast.AST,
    keep: ast.AST | None,
    saved: list[tuple[ast.AST, list[ast.stmt]]],
    stateful: set[int] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Reduce ``node`` to what its scope runs at import time, in place (``saved`` keeps the cut
    bodies so they can be put back): function bodies cut to their docstring unless they carry
    state between tests (``stateful``), classes other than ``keep`` cut to their header (they
    are blocks of their own; their decorators, bases and keywords still run in the parent
    scope)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(node) in stateful:
        for dec in node.decorator_list:
            _cut(dec, keep, saved, stateful)
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        saved.append((node, node.body))
        doc = node.body[0] if node.body and _is_docstring(node.body[0]) else None
        node.body = [doc] if doc is not None else []
        return
    if isinstance(node, ast.ClassDef) and node is not keep:
        saved.append((node, node.body))
        node.body = []
        return
    for child in ast.iter_child_nodes(node):
        _cut(child, keep, saved, stateful)


def _skeleton_digest(
    node: ast.AST,
    keep_class: ast.ClassDef | None,
    stateful: set[int] = frozenset(),  # type: ignore[assignment]
) -> str:
    # Cutting in place and restoring is much cheaper than copying the tree.
    saved: list[tuple[ast.AST, list[ast.stmt]]] = []
    try:
        _cut(node, keep_class, saved, stateful)
        return digest(_dump(node))
    finally:
        for cut, body in reversed(saved):
            cut.body = body  # type: ignore[attr-defined]


def parse_tree(source: str | bytes, path: str) -> ast.Module:
    try:
        return ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else path
        raise SourceError(
            f"cannot parse {where}: {exc.__class__.__name__}: {getattr(exc, 'msg', exc)}. "
            "difftest selects every test that depended on this file until it parses again."
        ) from exc


def blocks_from_tree(tree: ast.Module, stateful: set[int] | None = None) -> FileBlocks:
    """``stateful``: :func:`stateful_functions` of ``tree``, when the caller has it already."""
    if stateful is None:
        stateful = stateful_functions(tree)
    blocks: list[Block] = [
        Block(MODULE_BLOCK, "module", 1, _last_line(tree), _skeleton_digest(tree, None, stateful))
    ]
    functions: list[Block] = []
    for qualname, node in block_defs(tree):
        end = node.end_lineno or node.lineno
        if isinstance(node, ast.ClassDef):
            checksum = _skeleton_digest(node, node, stateful)
            blocks.append(Block(qualname, "class", node.lineno, end, checksum))
        else:
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            start = node.body[0].lineno if node.body else node.lineno
            functions.append(Block(qualname, "function", start, end, digest(_dump(node))))
    functions.sort(key=lambda b: b.start)
    examples = doctest_docstrings(tree)
    if examples:
        checksum = digest("\0".join(examples).encode())
        blocks.append(Block(DOCSTRINGS_BLOCK, "doctests", 1, _last_line(tree), checksum))
    return FileBlocks(
        blocks=(*blocks, *functions),
        _functions=tuple(functions),
    )


def doctest_docstrings(tree: ast.Module) -> list[str]:
    """The module's and its classes' docstrings that hold doctest examples (``>>>``)."""
    bodies = [tree.body] + [
        n.body for _, n in _walk_defs(tree.body, "") if isinstance(n, ast.ClassDef)
    ]
    found = []
    for body in bodies:
        first = body[0] if body else None
        if first is not None and _is_docstring(first):
            text = first.value.value  # type: ignore[attr-defined]
            if ">>>" in text:
                found.append(text)
    return found


def _last_line(tree: ast.Module) -> int:
    return max((getattr(n, "end_lineno", 0) or 0 for n in tree.body), default=0)


def parse_blocks(source: str | bytes, path: str) -> FileBlocks:
    """Blocks of a Python source; raises :class:`SourceError` when it does not parse."""
    return blocks_from_tree(parse_tree(source, path))
