"""Exercise 1 (reference solution): every operator computes its data and records its graph."""

import math
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import nonzero_floats, positive_floats, small_floats

pytestmark = pytest.mark.ex1

BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


@given(a=small_floats, b=nonzero_floats, op=st.sampled_from(sorted(BINARY)))
def test_binary_operator_data_and_children(ref, a, b, op):
    x, y = ref.Value(a), ref.Value(b)
    out = BINARY[op](x, y)
    assert out.data == BINARY[op](a, b), f"Value({a}) {op} Value({b})"
    assert type(out.children) is tuple
    assert len(out.children) == 2 and out.children[0] is x and out.children[1] is y
    assert out.op == op
    assert out.grad == 0.0


@given(a=nonzero_floats, number=nonzero_floats, op=st.sampled_from(sorted(BINARY)))
def test_numbers_are_wrapped_on_either_side(ref, a, number, op):
    v = ref.Value(a)
    right, left = BINARY[op](v, number), BINARY[op](number, v)
    assert right.data == BINARY[op](a, number), f"Value({a}) {op} {number}"
    assert left.data == BINARY[op](number, a), f"{number} {op} Value({a}): reflected operand order"
    for node in (right, left):
        assert all(isinstance(child, ref.Value) for child in node.children)
    assert right.children[0] is v and right.children[1].data == number
    assert left.children[1] is v and left.children[0].data == number


@given(a=positive_floats, n=st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 1.5]))
def test_power_by_a_number(ref, a, n):
    v = ref.Value(a)
    out = v**n
    assert out.data == a**n
    assert len(out.children) == 1 and out.children[0] is v
    assert out.op == f"**{n}"


def test_power_by_a_value_is_refused(ref):
    with pytest.raises(TypeError, match="exponent"):
        ref.Value(2.0) ** ref.Value(3.0)


@given(a=small_floats)
def test_negation_and_tanh(ref, a):
    v = ref.Value(a)
    assert (-v).data == -a
    t = v.tanh()
    assert t.data == math.tanh(a) and t.op == "tanh"
    assert len(t.children) == 1 and t.children[0] is v


def test_a_leaf(ref):
    leaf = ref.Value(3)
    assert leaf.data == 3.0 and type(leaf.data) is float
    assert leaf.grad == 0.0 and leaf.children == () and leaf.op == ""
    assert repr(leaf) == "Value(data=3, grad=0)"


def test_not_a_number_is_refused(ref):
    with pytest.raises((TypeError, ValueError)):
        ref.Value("three")


def test_sum_of_values_starts_from_zero(ref):
    values = [ref.Value(x) for x in (1.5, 2.5, -1.0)]
    total = sum(values)
    assert isinstance(total, ref.Value) and total.data == 3.0


def test_seed_example_forward(ref):
    x1, x2, x4, x6 = ref.Value(3), ref.Value(4), ref.Value(5), ref.Value(2)
    x3 = x1 * x2
    x5 = x4 + x3
    loss = x5 * x6
    assert (x3.data, x5.data, loss.data) == (12.0, 17.0, 34.0)
    assert loss.children == (x5, x6) and x5.children == (x4, x3) and x3.children == (x1, x2)
