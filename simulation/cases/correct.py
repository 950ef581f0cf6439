"""Correct submissions written otherwise than the reference: every one gets full marks."""

from __future__ import annotations

from simulation.builders import number_helper
from simulation.editing import (
    body,
    rewrite,
)
from simulation.expectations import (
    Case,
)

CASES: tuple[Case, ...] = (
    # -- correct, in another way than the reference: full marks ----------------------------------
    Case("ok_reference", "the reference solution", lambda k: k.solved()),
    Case(
        "ok_recursive_order",
        "recursive depth-first search for the order (the deepest graph of the checks is 300 nodes "
        "deep, as the notebook says)",
        lambda k: k.solved(
            rewrite(k.answers, "topological_order", "order.reverse()", body("recursive_order"))
        ),
    ),
    Case(
        "ok_recursive_comprehension",
        "recursive depth-first search written with a list comprehension (two frames per level in "
        "Python 3.11: 600 for the deepest graph of the checks)",
        lambda k: k.solved(
            rewrite(k.answers, "topological_order", "order.reverse()", body("recursive_order_comprehension"))
        ),
    ),
    Case(
        "ok_sub_via_negation",
        "a - b returned as a + (-b), before the difference closure is even defined",
        lambda k: k.solved(
            rewrite(
                rewrite(k.answers, "value_class", "Value(self.data - other.data", "return self + (-other)\n"),
                "value_class",
                "other.grad -= grad\n",
                "pass  # never reached: __sub__ returns early\n",
            )
        ),
    ),
    Case(
        "ok_div_via_power",
        "a / b returned as a * b ** -1",
        lambda k: k.solved(
            rewrite(
                rewrite(
                    k.answers, "value_class", "Value(self.data / other.data", "return self * other**-1\n"
                ),
                "value_class",
                "other.grad -= self.data / other.data / other.data * grad",
                "pass  # never reached: __truediv__ returns early\n",
            )
        ),
    ),
    Case(
        "ok_neuron_sum",
        "Neuron output with sum(..., start=bias) instead of a loop",
        lambda k: k.solved(rewrite(k.answers, "mlp_classes", "total = self.bias", body("neuron_with_sum"))),
    ),
    Case(
        "ok_number_helper",
        "plain numbers wrapped by a helper function defined after the class",
        number_helper,
    ),
)
