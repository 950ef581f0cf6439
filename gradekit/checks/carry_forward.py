"""Error carried forward: a failed check runs again with the reference solution in place of every
piece of the solution it is not about.

Markers of maths exams call it "error carried forward": a wrong result in part (a) is used as the
given in part (b), so one mistake costs marks once. Here a check names the pieces it tests
(`tests=` in gradekit.checks): dotted names of the definitions of the solution,

- `train`, `Neuron`, `find_reversed_topological_order`: a whole top-level class or function;
- `Value.__add__`: one method of a class, without the functions defined inside it;
- `Value.__add__._backwards`: a function defined inside a method (the closure of an operator).

A *world* for a set of pieces S is the student's notebook with every top-level definition of the
reference solution that is not in S put in its place, and a class that has some pieces in S
replaced by a *hybrid*: the reference class, with the student's versions of those pieces. When a
check fails with the student's own code, the grader runs it again in the world of its pieces, in a
fresh sandboxed process, and keeps the better result. Only the reference definitions outside S
exist in that process, so no student code can call the reference version of a piece it is
judged on.

A piece the student left as released (the stub) cannot pass: its world is not run.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterable
from dataclasses import dataclass

from gradekit.checks.closures import transplant


def parse_cells(sources: Iterable[str]) -> list[ast.stmt]:
    """The top-level statements of `sources`, in order; a cell that does not parse is left out."""
    statements: list[ast.stmt] = []
    for source in sources:
        try:
            statements.extend(ast.parse(source).body)
        except SyntaxError:
            continue
    return statements


def defined_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds (a def, a class, an assignment, an import)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def definitions(statements: list[ast.stmt]) -> dict[str, ast.stmt]:
    """name -> the last top-level def or class of that name."""
    found = {}
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node
    return found


def _member_name(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def members(cls: ast.ClassDef) -> dict[str, ast.stmt]:
    """member name -> its last definition in the class body."""
    return {name: node for node in cls.body if (name := _member_name(node)) is not None}


def nested_function(function: ast.stmt) -> ast.FunctionDef | None:
    """The one function defined directly in `function`'s body (an operator's closure), if exactly one."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    inner = [node for node in function.body if isinstance(node, ast.FunctionDef)]
    return inner[0] if len(inner) == 1 else None


def _combine(outer: ast.stmt, inner_from: ast.stmt) -> ast.stmt | None:
    """`outer` with its closure replaced by the closure of `inner_from` (renamed to the name the
    rest of `outer` uses); None when either has no single closure.

    The closure reads names of the method it was written in (`self`, `other`, `out`, `t`), which
    `outer` may call otherwise: they are renamed to `outer`'s (parameters by position, the node the
    method returns by what it returns), and a local the closure reads that `outer` does not have
    (`t = math.tanh(self.data)`) is computed again at the start of the closure, by the statement
    that computed it in `inner_from`."""
    mine, theirs = nested_function(outer), nested_function(inner_from)
    if mine is None or theirs is None:
        return None
    result = copy.deepcopy(outer)
    closure = transplant(theirs, inner_from, outer)
    closure.name = mine.name
    result.body = [
        closure if isinstance(n, ast.FunctionDef) and n.name == mine.name else n for n in result.body
    ]
    return result


def piece_source(statements: list[ast.stmt], piece: str) -> str | None:
    """The code of `piece` in `statements` (see the module docstring), or None if it is absent."""
    parts = piece.split(".")
    node = definitions(statements).get(parts[0])
    if node is None or len(parts) == 1:
        return None if node is None else ast.unparse(node)
    if not isinstance(node, ast.ClassDef):
        return None
    member = members(node).get(parts[1])
    if member is None:
        return None
    if len(parts) == 2:
        outer = copy.deepcopy(member)
        if isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)):
            outer.body = [n for n in outer.body if not isinstance(n, ast.FunctionDef)] or [ast.Pass()]
        return ast.unparse(outer)
    inner = nested_function(member)
    if inner is None:  # a closure written another way (a lambda, two functions): the whole method
        return ast.unparse(member)
    return ast.unparse(inner) if len(parts) == 3 else None


def pieces_of(statements: list[ast.stmt]) -> set[str]:
    """Every piece name that `statements` define (top-level defs and classes, their members, and
    the closures of the members)."""
    found = set()
    for name, node in definitions(statements).items():
        found.add(name)
        if isinstance(node, ast.ClassDef):
            for member_name, member in members(node).items():
                found.add(f"{name}.{member_name}")
                inner = nested_function(member)
                if inner is not None:
                    found.add(f"{name}.{member_name}.{inner.name}")
    return found


def changed_elsewhere(statements: list[ast.stmt], name: str) -> bool:
    """Whether code outside the class body of `name` changes the class: a class decorator, or a
    top-level statement that sets, deletes or `setattr`s one of its attributes. Such a class is
    more than its body, so it is not taken apart."""
    cls = definitions(statements).get(name)
    if isinstance(cls, ast.ClassDef) and cls.decorator_list:
        return True
    for node in statements:
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for part in ast.walk(target):
                if (
                    isinstance(part, ast.Attribute)
                    and isinstance(part.value, ast.Name)
                    and part.value.id == name
                ):
                    return True
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and getattr(call.func, "id", None) in ("setattr", "delattr")
                and call.args
                and isinstance(call.args[0], ast.Name)
                and call.args[0].id == name
            ):
                return True
    return False


def hybrid_class(reference: ast.ClassDef, student: ast.ClassDef, pieces: set[str]) -> ast.ClassDef:
    """The reference class with the student's version of each of `pieces` (names "Class.member" or
    "Class.member.closure"). A member the student wrote in another shape than the reference's (no
    single closure) comes whole from the student when any of its pieces is asked for; helper
    methods the student added (names not in the reference, not special methods) come along, since
    the student's pieces may call them."""
    name = reference.name
    theirs = members(student)
    body = []
    for node in reference.body:
        member = _member_name(node)
        whole = f"{name}.{member}" in pieces  # the method, without its closure
        wanted = any(p.startswith(f"{name}.{member}.") for p in pieces)  # its closure
        if member is None or not (whole or wanted):
            body.append(node)
            continue
        student_member = theirs.get(member)
        if student_member is None:
            continue  # the student has no such member: the check will find out
        if whole and not wanted:
            combined = _combine(student_member, node)  # the student's method, the reference's closure
        elif wanted and not whole:
            combined = _combine(node, student_member)  # the reference's method, the student's closure
        else:
            combined = None
        body.append(combined if combined is not None else student_member)
    reference_members = members(reference)
    for member, node in theirs.items():
        extra = member not in reference_members
        if extra and (
            not (member.startswith("__") and member.endswith("__")) or f"{name}.{member}" in pieces
        ):
            body.append(node)
    hybrid = copy.deepcopy(reference)
    hybrid.body = body or [ast.Pass()]
    return hybrid


@dataclass(frozen=True)
class World:
    """What a kernel runs to enter the world of `pieces`: `code`, after the student's definitions."""

    pieces: frozenset[str]
    code: str


def world(reference: list[ast.stmt], student: list[ast.stmt], pieces: Iterable[str]) -> World:
    """The world of `pieces`: the reference's top-level statements except those that define a name
    of `pieces` (the student's stays) or a class hybridised with the student's members."""
    pieces = frozenset(pieces)
    ref_defs, student_defs = definitions(reference), definitions(student)
    whole = {p for p in pieces if "." not in p}
    hybrids: dict[str, str] = {}
    for name in {p.split(".")[0] for p in pieces if "." in p} - whole:
        ref_class, student_class = ref_defs.get(name), student_defs.get(name)
        if (
            isinstance(ref_class, ast.ClassDef)
            and isinstance(student_class, ast.ClassDef)
            and not changed_elsewhere(student, name)
        ):
            parts = {p for p in pieces if p.startswith(f"{name}.")}
            hybrids[name] = ast.unparse(hybrid_class(ref_class, student_class, parts))
        else:  # the student's class cannot be taken apart: all of it is the student's
            whole.add(name)
    kept = [node for node in reference if not (defined_names(node) & (whole | set(hybrids)))]
    names = sorted(set().union(*(defined_names(node) for node in reference)))
    code = f"""\
def _gradekit_world(reference, hybrids, student, names):
    import __main__
    mine = dict(vars(__main__))
    namespace = dict(mine)
    exec(reference, namespace)
    for source in hybrids:
        exec(source, namespace)
    for name in student:
        if name in mine:
            namespace[name] = mine[name]
        else:
            namespace.pop(name, None)
    for name in names:
        if name in namespace:
            setattr(__main__, name, namespace[name])
        elif hasattr(__main__, name):
            delattr(__main__, name)

_gradekit_world(
    {ast.unparse(ast.Module(body=kept, type_ignores=[]))!r},
    {list(hybrids.values())!r},
    {sorted(whole)!r},
    {names!r},
)
del _gradekit_world
"""
    return World(pieces, code)


def unwritten(
    student: list[ast.stmt],
    release: list[ast.stmt],
    pieces: Iterable[str],
    reference: list[ast.stmt] | None = None,
) -> bool:
    """True when every one of `pieces` is still exactly as released and released as a stub (it
    differs from the `reference`'s version), or missing: a world of those pieces cannot pass. A
    piece given whole in the release (the same as the reference's, such as a given constructor) is
    never unwritten: the student's copy of it is their own, right until they change it."""
    for piece in pieces:
        mine = piece_source(student, piece)
        if mine is None:
            continue
        released = piece_source(release, piece)
        given = reference is not None and released == piece_source(reference, piece)
        if given or mine != released:
            return False
    return True


_DEFINITION = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, _DEFINITION):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return node.value is None or not _runs(node.value)
    if isinstance(node, (ast.If, ast.Try)):
        inner = node.body + node.orelse + getattr(node, "finalbody", [])
        inner += [n for handler in getattr(node, "handlers", []) for n in handler.body]
        return all(_is_definition(n) or isinstance(n, ast.Pass) for n in inner)
    return False


def _runs(node: ast.AST) -> bool:
    """Whether evaluating the expression `node` calls anything (a lambda's body runs later)."""
    if isinstance(node, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)):
        return True
    if isinstance(node, ast.Lambda):
        return any(_runs(d) for d in node.args.defaults + [d for d in node.args.kw_defaults if d])
    return any(_runs(child) for child in ast.iter_child_nodes(node))


def definitions_only(source: str) -> str | None:
    """The statements of a cell that define things (imports, functions, classes, assignments of
    values computed without calls), for a world's kernel: the student's classes and functions
    without their demos, loops or prints. None if the cell does not parse or defines nothing."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    kept = [node for node in tree.body if _is_definition(node)]
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) if kept else None
