"""Exercise 2 (reference solution): gradients, the topological order and backward()."""

import math
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import exponents, nonzero_floats, positive_floats, small_floats

pytestmark = pytest.mark.ex2

# f(x) for one input, built with the engine's operators; inputs chosen inside each domain.
UNARY = {
    "x + 3": (lambda x: x + 3, small_floats),
    "3 + x": (lambda x: 3 + x, small_floats),
    "x - 3": (lambda x: x - 3, small_floats),
    "3 - x": (lambda x: 3 - x, small_floats),
    "x * 3": (lambda x: x * 3, small_floats),
    "3 * x": (lambda x: 3 * x, small_floats),
    "x / 3": (lambda x: x / 3, small_floats),
    "3 / x": (lambda x: 3 / x, nonzero_floats),
    "-x": (lambda x: -x, small_floats),
    "tanh(x)": (lambda x: x.tanh(), small_floats),
    "x * x": (lambda x: x * x, small_floats),
    "x + x": (lambda x: x + x, small_floats),
    "x / x + x": (lambda x: x / x + x, nonzero_floats),
    "tanh(x * x - x)": (lambda x: (x * x - x).tanh(), small_floats),
}


def central_difference(f, x: float, h: float = 1e-6) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def assert_gradient(ref, name, build, x0):
    x = ref.Value(x0)
    build(x).backward()
    expected = central_difference(lambda t: build(ref.Value(t)).data, x0)
    tolerance = 1e-4 * max(1.0, abs(expected))
    assert abs(x.grad - expected) <= tolerance, (
        f"d/dx {name} at x={x0!r}: expected {expected!r} (central difference), got {x.grad!r}"
    )


@pytest.mark.parametrize("name", sorted(UNARY))
def test_gradient_matches_central_difference(ref, name):
    build, inputs = UNARY[name]

    @given(x0=inputs)
    @settings(deadline=None, max_examples=60)
    def check(x0):
        assert_gradient(ref, name, build, x0)

    check()


@given(x0=positive_floats, n=exponents)
@settings(deadline=None)
def test_power_gradient(ref, x0, n):
    assert_gradient(ref, f"x ** {n}", lambda x: x**n, x0)


@given(a=small_floats, b=nonzero_floats)
@settings(deadline=None)
def test_binary_gradients_reach_both_operands(ref, a, b):
    cases = {
        "a + b": (lambda a, b: a + b, 1.0, 1.0),
        "a - b": (lambda a, b: a - b, 1.0, -1.0),
        "a * b": (lambda a, b: a * b, b, a),
        "a / b": (lambda a, b: a / b, 1 / b, -a / b**2),
    }
    for name, (f, da, db) in cases.items():
        x, y = ref.Value(a), ref.Value(b)
        f(x, y).backward()
        assert math.isclose(x.grad, da, rel_tol=1e-12, abs_tol=1e-12), f"d({name})/da: {da} vs {x.grad}"
        assert math.isclose(y.grad, db, rel_tol=1e-12, abs_tol=1e-12), f"d({name})/db: {db} vs {y.grad}"


def test_seed_example(ref):
    x1, x2, x4, x6 = ref.Value(3), ref.Value(4), ref.Value(5), ref.Value(2)
    x3 = x1 * x2
    x5 = x4 + x3
    loss = x5 * x6
    loss.backwards()  # the workshop's name, kept as an alias
    grads = {name: node.grad for name, node in locals().items() if isinstance(node, ref.Value)}
    assert grads == {"x1": 8.0, "x2": 6.0, "x4": 2.0, "x6": 17.0, "x3": 2.0, "x5": 2.0, "loss": 1.0}


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda a: a + a, 2.0),
        (lambda a: a * a, 6.0),
        (lambda a: (a + a) + (a + a), 4.0),
        (lambda a: (lambda b: b + b)(a + a), 4.0),
        (lambda a: (lambda b: b * (a + b))(a * 3), 72.0),  # 3a * 4a = 12 a**2 -> 24 a
    ],
)
def test_reused_nodes_accumulate(ref, build, expected):
    a = ref.Value(3.0)
    build(a).backward()
    assert a.grad == expected


def test_backward_twice_accumulates_on_leaves_only(ref):
    a = ref.Value(2.0)
    b = a * 3
    c = b * 4
    c.backward()
    c.backward()
    assert (a.grad, b.grad, c.grad) == (24.0, 4.0, 1.0)
    c.zero_grad()
    assert (a.grad, b.grad, c.grad) == (0.0, 0.0, 0.0)


@st.composite
def graphs(draw, ref):
    """A random expression graph in which nodes are reused, and its root."""
    nodes = [ref.Value(draw(small_floats)) for _ in range(draw(st.integers(1, 4)))]
    for _ in range(draw(st.integers(0, 25))):
        op = draw(st.sampled_from(["+", "*", "-", "tanh"]))
        a = draw(st.sampled_from(nodes))
        if op == "tanh":
            nodes.append(a.tanh())
            continue
        b = draw(st.sampled_from(nodes))
        nodes.append({"+": a + b, "*": a * b, "-": a - b}[op])
    return nodes[-1]


@given(data=st.data())
@settings(deadline=None)
def test_reversed_topological_order(ref, data):
    root = data.draw(graphs(ref))
    order = ref.find_reversed_topological_order(root)
    position = {id(node): i for i, node in enumerate(order)}
    assert order[0] is root
    assert len(position) == len(order), "a node appears twice"
    reachable, todo = set(), [root]
    while todo:
        node = todo.pop()
        if id(node) not in reachable:
            reachable.add(id(node))
            todo.extend(node.children)
    assert set(position) == reachable
    for node in order:
        for child in node.children:
            assert position[id(node)] < position[id(child)]


def test_deep_chain_has_no_recursion_limit(ref):
    steps = 25_000  # four nodes a step: the constant 1.0, the product, the constant 0.0, the sum
    x = ref.Value(1.0)
    node = x
    for _ in range(steps):
        node = node * 1.0 + 0.0
    assert len(ref.find_reversed_topological_order(node)) == 4 * steps + 1 >= 100_000
    node.backward()
    assert x.grad == 1.0


GRADIENT_SCRIPT = textwrap.dedent(
    """
    import random
    from simulation.reference import load
    m = load()
    random.seed(5)
    model = m.MLP([3, 6, 6, 1])
    xs = [[random.uniform(-1, 1) for _ in range(3)] for _ in range(20)]
    losses = m.train(model, xs, [random.uniform(-1, 1) for _ in xs], 3, 0.05)
    print(repr(losses), [p.grad.hex() for p in model.parameters()])
    """
)


def test_gradients_are_bit_identical_across_interpreters():
    """Children are tuples, never sets: float sums happen in the same order in every run."""
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        result = subprocess.run(
            [sys.executable, "-c", GRADIENT_SCRIPT], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert "0x0.0p+0" not in outputs[0].split("]", 1)[1], "some parameter got no gradient"


# -- edge cases of the reference engine --------------------------------------------------------------


@pytest.mark.parametrize("x0", [0.0, -2.0, 3.5])
def test_the_gradient_of_a_power_zero_is_zero_everywhere(ref, x0):
    x = ref.Value(x0)
    (x**0).backward()
    assert x.grad == 0.0


@given(
    a=st.floats(min_value=-1e300, max_value=1e300, allow_nan=False),
    b=st.one_of(st.floats(min_value=1e-300, max_value=1e300), st.floats(min_value=-1e300, max_value=-1e-300)),
)
@settings(deadline=None)
def test_the_quotient_rule_never_overflows_where_the_quotient_is_finite(ref, a, b):
    """d(a / b)/db = -(a / b) / b: computed so, it is finite (or rounds to 0) wherever a / b and the
    true derivative are; the textbook a / b**2 raises OverflowError for |b| > 1.3e154 and
    ZeroDivisionError for |b| < 1e-162."""
    quotient = a / b
    if not math.isfinite(quotient):
        return
    x, y = ref.Value(a), ref.Value(b)
    (x / y).backward()
    assert x.grad == 1 / b
    expected = -quotient / b
    assert y.grad == expected or (math.isinf(expected) and math.isinf(y.grad))


@pytest.mark.parametrize(("a", "b"), [(1.0, 1e200), (3.0, 1e-200), (1e-300, 1e-10), (-2.0, -1e170)])
def test_the_quotient_rule_at_extreme_divisors(ref, a, b):
    """-a / b**2 as exactly as floats allow: 0.0 where it underflows, -inf where it overflows (the
    quotient a / b is finite in every case, and nothing raises)."""
    from fractions import Fraction

    x, y = ref.Value(a), ref.Value(b)
    (x / y).backward()
    assert x.grad == 1 / b
    exact = -Fraction(a) / Fraction(b) ** 2
    try:
        nearest = float(exact)
    except OverflowError:
        nearest = -math.inf if exact < 0 else math.inf
    assert y.grad == pytest.approx(nearest, rel=1e-15, abs=1e-320)


def test_a_negative_base_needs_a_whole_exponent(ref):
    with pytest.raises(ValueError, match="negative base needs a whole exponent"):
        ref.Value(-8.0) ** (1 / 3)
    assert (ref.Value(-8.0) ** 3).data == -512.0
    assert (ref.Value(-8.0) ** 2.0).data == 64.0  # 2.0 is whole
    assert (ref.Value(8.0) ** (1 / 3)).data == pytest.approx(2.0)
