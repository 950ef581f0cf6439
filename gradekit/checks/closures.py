"""A closure moved from one method into another (error carried forward's hybrids): the names it
reads are the method's it was written in (`self`, `other`, `out`, `t`), which the other method may
call otherwise. `transplant` renames them to the host's (parameters by position, the node a method
returns by what it returns) and computes again, at the start of the closure, a local the host does
not have, by the statement that computed it in the method the closure comes from."""

from __future__ import annotations

import ast
import copy


def _parameters(function: ast.FunctionDef) -> list[str]:
    args = function.args
    return [a.arg for a in args.posonlyargs + args.args]


def _returned(function: ast.FunctionDef) -> str | None:
    """The name a method returns (`return out`), if it returns one name."""
    names = {
        node.value.id
        for node in function.body
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Name)
    }
    return names.pop() if len(names) == 1 else None


def _locals(function: ast.FunctionDef) -> set[str]:
    """The names a method binds in its own body (its closures' insides aside) and its parameters."""
    bound = set(_parameters(function)) | {a.arg for a in function.args.kwonlyargs}
    for node in function.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            for part in ast.walk(node):
                if isinstance(part, ast.Name) and isinstance(part.ctx, ast.Store):
                    bound.add(part.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bound.add(node.name)
    return bound


def _free_names(closure: ast.FunctionDef) -> set[str]:
    """The names a closure reads that it does not bind itself."""
    own = {a.arg for a in ast.walk(closure.args) if isinstance(a, ast.arg)}
    own |= {n.id for n in ast.walk(closure) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return {n.id for n in ast.walk(closure) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - own


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.names.get(node.id, node.id)
        return node


def transplant(closure: ast.FunctionDef, donor: ast.FunctionDef, host: ast.FunctionDef) -> ast.FunctionDef:
    """A copy of `closure` (written in `donor`) that reads `host`'s names (see `_combine`)."""
    mapping = dict(zip(_parameters(donor), _parameters(host)))
    if (given := _returned(donor)) and (taken := _returned(host)):
        mapping[given] = taken
    donor_locals, host_locals = _locals(donor), _locals(host)
    needed = [n for n in sorted(_free_names(closure)) if n in donor_locals and n not in mapping]
    missing = {n for n in needed if n not in host_locals}
    prelude = []
    for node in donor.body:  # the donor's statements that compute what the host lacks, in order
        if node is closure or not isinstance(node, ast.Assign):
            continue
        targets = {t.id for t in node.targets if isinstance(t, ast.Name)}
        if targets & missing:
            prelude.append(copy.deepcopy(node))
            missing |= {n for n in _free_names_of(node.value) if n in donor_locals and n not in mapping}
    transplanted = copy.deepcopy(closure)
    body = prelude + transplanted.body
    docstring = (
        body
        and isinstance(transplanted.body[0], ast.Expr)
        and isinstance(getattr(transplanted.body[0], "value", None), ast.Constant)
    )
    if prelude and docstring:  # keep the docstring first
        body = [transplanted.body[0], *prelude, *transplanted.body[1:]]
    transplanted.body = body
    return _Rename(mapping).visit(transplanted)


def _free_names_of(expression: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(expression) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
