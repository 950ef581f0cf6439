"""The checks of the topological order fail every invalid order: a property test of their judge
(`a_valid_order`, in the test cell) over random graphs and orders, and every check of the cell run
against the wrong searches students write (a pre-order, a breadth-first search, a post-order
that was never reversed), each of which fails a visible check and a hidden one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradekit import checks
from gradekit.checks import probes
from gradekit.course.notebooks import nbgrader_meta, read
from simulation.course import SOURCE_NOTEBOOK
from simulation.editing import snippet

pytestmark = pytest.mark.course

CELL = "ex2_topological_order"


def order_cell() -> probes.TestCell:
    source = next(c.source for c in read(SOURCE_NOTEBOOK).cells if nbgrader_meta(c).get("grade_id") == CELL)
    return probes.TestCell.parse(CELL, source)


def judge_of(nodes: int):
    """The test cell's `a_valid_order(nodes)`, read from the cell itself (spec mode)."""
    cell = order_cell()
    namespace = {"check": checks.check, "report": checks.report, "identify": checks.identify}
    with probes.spec_mode():
        exec(cell.code, namespace)
    return namespace["a_valid_order"](nodes)


@st.composite
def graphs(draw):
    """A graph as numbered_order describes one: node 0 the root, every node reachable from it
    (each node i > 0 is a child of some node before it), edges [parent, child] in the order
    .children would list them."""
    n = draw(st.integers(1, 12))
    edges = []
    for child in range(1, n):
        parents = draw(st.sets(st.integers(0, child - 1), min_size=1, max_size=3))
        edges += [[p, child] for p in sorted(parents)]
    draw(st.randoms()).shuffle(edges)
    return n, edges


def is_valid(n: int, edges, order) -> bool:
    """Every node once, each before its children (so the root first): by definition."""
    if sorted(order) != list(range(n)):
        return False
    position = {node: i for i, node in enumerate(order)}
    return all(position[p] < position[c] for p, c in edges)


def reversed_postorder(n, edges):
    children = {i: [c for p, c in edges if p == i] for i in range(n)}
    seen, out = set(), []

    def visit(node):
        seen.add(node)
        for c in children[node]:
            if c not in seen:
                visit(c)
        out.append(node)

    visit(0)
    return out[::-1]


@given(graphs(), st.randoms(use_true_random=False))
def test_the_judge_of_an_order_accepts_exactly_the_valid_orders(graph, rng):
    n, edges = graph
    judge = judge_of(n)
    candidates = [reversed_postorder(n, edges), list(range(n))[::-1]]
    for _ in range(6):
        shuffled = list(range(n))
        rng.shuffle(shuffled)
        candidates.append(shuffled)
    candidates.append(reversed_postorder(n, edges)[:-1])  # a node missing
    candidates.append([*reversed_postorder(n, edges), 0])  # a node twice
    for order in candidates:
        verdict = judge({"nodes": n, "edges": edges, "order": order})
        assert (verdict is None) == is_valid(n, edges, order), (n, edges, order, verdict)


# -- the wrong searches students write, against every check of the cell ------------------------------


def from_snippet(name: str):
    """The order function of simulation/snippets/<name>.py: the very code the cohort hands in."""
    namespace: dict = {}
    exec(snippet(name), namespace)
    return namespace["find_reversed_topological_order"]


def postorder_not_reversed(root):
    order, seen = [], set()

    def visit(node):
        seen.add(id(node))
        for child in node.children:
            if id(child) not in seen:
                visit(child)
        order.append(node)

    visit(root)
    return order


WRONG = {
    "pre-order": from_snippet("preorder"),
    "breadth-first": from_snippet("breadth_first"),
    "post-order, not reversed": postorder_not_reversed,
}


def run_cell(ref, order_function) -> dict[str, tuple[bool, bool]]:
    """check name -> (passed, hidden) for every check of the cell, with the reference Value and
    `order_function` as find_reversed_topological_order, in notebook mode."""
    cell = order_cell()
    namespace = {
        "Value": ref.Value,
        "find_reversed_topological_order": order_function,
        "check": checks.check,
        "report": checks.report,
        "identify": checks.identify,
    }
    with probes.spec_mode():
        exec(cell.code, namespace)
        found = checks.spec_checks()
    hidden = set(cell.hidden_names)
    return {
        item.name: (checks.verdict(item, checks.observe(item)).passed, item.name in hidden) for item in found
    }


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_every_wrong_search_fails_a_visible_check_and_a_hidden_one(ref, wrong):
    results = run_cell(ref, WRONG[wrong])
    failed_visible = [name for name, (passed, hidden) in results.items() if not passed and not hidden]
    failed_hidden = [name for name, (passed, hidden) in results.items() if not passed and hidden]
    assert failed_visible and failed_hidden, f"a {wrong} search fails {results}"


def test_the_reference_passes_every_check_of_the_cell(ref):
    assert all(passed for passed, _ in run_cell(ref, ref.find_reversed_topological_order).values())


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_each_check_fails_a_wrong_search_whenever_its_order_is_invalid(ref, wrong):
    """A check may pass a wrong search only on a graph where that search happens to give a valid
    order (a pre-order of a tree is one): then it is right to pass it."""
    cell = order_cell()
    recorded = {}

    def recording(root):
        order = WRONG[wrong](root)
        numbers, nodes, todo, edges = {id(root): 0}, [root], [root], []
        while todo:
            parent = todo.pop()
            for child in parent.children:
                if id(child) not in numbers:
                    numbers[id(child)] = len(nodes)
                    nodes.append(child)
                    todo.append(child)
                edges.append([numbers[id(parent)], numbers[id(child)]])
        recorded[current[0]] = is_valid(len(nodes), edges, [numbers[id(n)] for n in order])
        return order

    current = [None]
    namespace = {
        "Value": ref.Value,
        "find_reversed_topological_order": recording,
        "check": checks.check,
        "report": checks.report,
        "identify": checks.identify,
    }
    with probes.spec_mode():
        exec(cell.code, namespace)
        found = checks.spec_checks()
    for item in found:
        current[0] = item.name
        passed = checks.verdict(item, checks.observe(item)).passed
        assert passed == recorded[item.name], f"{item.name} on a {wrong} search: valid={recorded[item.name]}"
