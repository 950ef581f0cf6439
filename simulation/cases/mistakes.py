"""One common mistake each, charged in the checks of the piece it is in."""

from __future__ import annotations

from simulation.builders import (
    assign_in_mul,
    children_as_a_list,
    children_as_a_set,
    eq_without_hash,
    neuron_without_bias,
    tanh_through_exp,
    wrong_rsub,
)
from simulation.editing import (
    body,
    drop_line,
    rewrite,
    swap,
)
from simulation.expectations import (
    ENGINE,
    NEURON_GRAPH,
    ORDER,
    TANH,
    TRAINING,
    TRAINING_WITH_TANH,
    Case,
    named,
    testing,
)

# a tree has valid pre-orders and breadth-first orders (the worked example, a chain); so does a
# single leaf, and zero_grad() does not depend on the order
TREE_ORDERS = named(
    "ex2_topological_order/worked_example_order",
    "ex2_topological_order/deep_chain",
    "ex2_topological_order/shared_nodes",
    "ex2_topological_order/single_leaf",
    "ex2_backward/value_zero_grad",
)

CASES: tuple[Case, ...] = (
    # -- one common mistake each ---------------------------------------------------------------------
    Case(
        "bug_assign_in_mul",
        "`=` instead of `+=` in both lines of the product's closure: a node used twice keeps one "
        "contribution",
        lambda k: k.solved(assign_in_mul(k)),
        says={
            "ex2_add_mul_grads/shared_operand": "uses b twice",  # c = a*b + b
            "ex2_reused_nodes/product_of_a_node_with_itself": "d(a * a)/da = 2a",
            "ex2_reused_nodes/node_used_on_two_paths": "expected 48.0",
        },
        # backward() and train() are right: with the reference product they pass
        carried=frozenset({"ex2_backward/two_roots_add_up", "ex2_backward/backward_twice"}) | TRAINING,
        # a node used once gets its gradient right with `=` as well
        passes=named(
            "ex2_add_mul_grads/product_gradients",
            "ex2_add_mul_grads/worked_example",
            "ex2_add_mul_grads/zero_operand",
        ),
        breaks="Value.__mul__._backwards",
    ),
    Case(
        "bug_root_grad_not_set",
        "backward() never sets the root's gradient to 1: every gradient stays 0",
        lambda k: k.solved(drop_line(k.answers, "value_class", "self.grad = 1.0")),
        passes=named(
            "ex2_backward/value_zero_grad", "ex2_other_grads/tanh_large_inputs", "ex2_other_grads/pow_zero"
        ).keys(),
        says=named("ex2_reused_nodes/node_used_on_two_paths", text="expected 48.0, got 0.0")
        | named("ex2_backward/root_gradient", text="set it in backward()"),
        # every closure is right: with the reference backward() their checks pass (but the two
        # whose gradient is 0 anyway, which pass as they are)
        carried=(testing(*ENGINE[:6]) - testing("Value.backward", ORDER) | TRAINING | NEURON_GRAPH)
        - named("ex2_other_grads/tanh_large_inputs", "ex2_other_grads/pow_zero").keys(),
        breaks="Value.backward",
    ),
    Case(
        "bug_order_not_reversed",
        "the topological order returned leaves first: only the root's own children get a gradient",
        lambda k: k.solved(drop_line(k.answers, "topological_order", "order.reverse()")),
        says=named(
            "ex2_topological_order/worked_example_order",
            "ex2_topological_order/reused_node_order",
            "ex2_topological_order/shared_nodes",
            "ex2_topological_order/long_and_short_paths",
            "ex2_topological_order/deep_chain",
            text="the root must come first",
        )
        | named("ex2_reused_nodes/node_used_on_two_paths", text="only after every node that uses it"),
        carried=frozenset(
            {
                "ex2_add_mul_grads/worked_example",
                "ex2_add_mul_grads/shared_operand",
                "ex2_other_grads/sub_chain",
                "ex2_other_grads/div_chain",
                "ex2_other_grads/pow_chain",
                "ex2_other_grads/tanh_chain",
                "ex2_reused_nodes/sum_of_sums",
                "ex2_backward/backward_twice",
            }
        )
        | NEURON_GRAPH
        | TRAINING,
        # one leaf is its own order either way, and zero_grad() does not depend on the order
        passes=named("ex2_topological_order/single_leaf", "ex2_backward/value_zero_grad"),
        breaks=ORDER,
    ),
    Case(
        "bug_order_preorder",
        "a pre-order search (each node before its children, never reversed): [c, a, b, 3] for "
        "c = a + b, b = a * 3, where b must come before a",
        lambda k: k.solved(rewrite(k.answers, "topological_order", "order.reverse()", body("preorder"))),
        says=named(
            "ex2_topological_order/reused_node_order",
            "ex2_topological_order/long_and_short_paths",
            text="a node comes after one of its children",
        )
        | named("ex2_reused_nodes/node_used_on_two_paths", text="expected 48.0"),
        # a tree has valid pre-orders (the worked example, a chain), and so has an MLP's loss: a
        # tree of nodes but for the parameters it shares, which are leaves: training is right
        passes=TREE_ORDERS,
        breaks=ORDER,
    ),
    Case(
        "bug_order_breadth_first",
        "a breadth-first search from the root: level by level, which puts a node reached by a short "
        "path before the nodes of a longer path to it",
        lambda k: k.solved(rewrite(k.answers, "topological_order", "order.reverse()", body("breadth_first"))),
        says=named(
            "ex2_topological_order/reused_node_order",
            "ex2_topological_order/long_and_short_paths",
            text="a node comes after one of its children",
        )
        | named("ex2_reused_nodes/node_used_on_two_paths", text="expected 48.0"),
        passes=TREE_ORDERS,
        breaks=ORDER,  # (and an MLP's loss is a tree but for its leaves: training is right)
    ),
    Case(
        "bug_init_children_list",
        "the given constructor edited to keep children as a list, `self.children = list(children)`",
        children_as_a_list,
        # charged in the checks of the constructor, and not carried forward by the reference's
        says=named("ex1_add_mul/leaf_and_sum", text="children: expected '()'")
        | named("ex1_add_mul/children_are_tuples", text="[0]: expected 'tuple', got 'list'"),
        breaks="Value.__init__",
    ),
    Case(
        "bug_tanh_derivative",
        "tanh's derivative taken at the input, 1 - a**2, instead of 1 - tanh(a)**2",
        lambda k: k.solved(swap(k.answers, "value_class", "(1.0 - t**2)", "(1.0 - self.data**2)")),
        says=named(
            "ex2_other_grads/tanh_slope",
            "ex2_other_grads/tanh_chain",
            "ex2_other_grads/tanh_negative",
            "ex2_other_grads/tanh_large_inputs",
        ),  # tanh_zero passes: 1 - 0**2 is right at 0
        # hidden units with |a| > 1 are pushed the wrong way: the loss overflows
        carried=TRAINING_WITH_TANH,
        passes=named("ex2_other_grads/tanh_zero"),
        breaks="Value.tanh._backwards",
    ),
    Case(
        "bug_power_derivative",
        "power rule without the - 1: d(a**n)/da = n * a**n",
        lambda k: k.solved(
            swap(k.answers, "value_class", "self.data ** (exponent - 1)", "self.data**exponent")
        ),
        says=named(
            "ex2_other_grads/pow_slope",
            "ex2_other_grads/pow_chain",
            "ex2_other_grads/pow_negative",
            "ex2_other_grads/pow_half",
            "ex2_other_grads/pow_one",
            "ex2_other_grads/pow_negative_base",
        ),  # pow_zero passes: 0 * a**0 is right
        # backward() and train() are right; the check of `backwards` squares a number
        carried=frozenset({"ex2_backward/backwards_alias"}) | TRAINING,
        passes=named("ex2_other_grads/pow_zero"),
        breaks="Value.__pow__._backwards",
    ),
    Case(
        "bug_power_via_log",
        "power rule computed as n * exp((n - 1) * log(a)): right for a > 0, a math domain error otherwise",
        lambda k: k.solved(
            swap(
                k.answers,
                "value_class",
                "self.data ** (exponent - 1)",
                "math.exp((exponent - 1) * math.log(self.data))",
            )
        ),
        says=named("ex2_other_grads/pow_one", "ex2_other_grads/pow_negative_base", text="math domain error"),
        # the squared error (p - t) ** 2 has p - t < 0: training fails with the student's engine
        carried=TRAINING,
        caught_by=named("ex2_other_grads/pow_one", "ex2_other_grads/pow_negative_base"),
        breaks="Value.__pow__._backwards",
    ),
    Case(
        "bug_rsub_order",
        "`2 - v` computed as v - 2",
        lambda k: k.solved(wrong_rsub(k)),
        says=named(
            "ex1_reflected_and_numbers/number_minus", "ex1_reflected_and_numbers/zero_minus", text="expected"
        ),
        breaks="Value.__rsub__",
    ),
    Case(
        "bug_rtruediv_order",
        "`2 / v` computed as v / 2",
        lambda k: k.solved(
            swap(k.answers, "value_class", "return Value(other) / self", "return self / Value(other)")
        ),
        says=named("ex1_reflected_and_numbers/number_over", text="mind the order"),
        breaks="Value.__rtruediv__",
    ),
    Case(
        "bug_radd_recursion",
        "`__radd__` written as `return other + self`, which calls __radd__ again: RecursionError",
        lambda k: k.solved(
            swap(k.answers, "value_class", "return Value(other) + self", "return other + self")
        ),
        says=named(
            "ex1_reflected_and_numbers/number_plus",
            "ex1_reflected_and_numbers/float_plus",
            "ex1_reflected_and_numbers/sum_of_values",
            text="RecursionError",
        ),
        carried=TRAINING,  # sum() of the squared errors starts from 0
        breaks="Value.__radd__",
    ),
    Case(
        "bug_children_set",
        "children={self, other} (a set, as micrograd does) in the four binary operators",
        lambda k: k.solved(children_as_a_set(k)),
        breaks=("Value.__add__", "Value.__mul__", "Value.__sub__", "Value.__truediv__"),
        # a set has no order: 40 pairs in operand order fail with near certainty; a tuple() of the
        # set is still a tuple, so no other check can tell
        caught_by=named("ex1_add_mul/children_in_operand_order"),
    ),
    Case(
        "bug_eq_without_hash",
        "Value.__eq__ compares data, which makes Value unhashable: the order's set of visited nodes "
        "raises TypeError",
        eq_without_hash,
        says=named("ex1_add_mul/nodes_are_distinct", text="unhashable"),
        # every ex2 check runs the order (a set of Values): with the reference Value they pass
        carried=testing(*ENGINE, "Value.zero_grad") | NEURON_GRAPH | TRAINING,
        breaks="Value",
    ),
    Case(
        "bug_tanh_overflow",
        "tanh computed as (e - 1) / (e + 1) with e = exp(2x): OverflowError for x >= 355",
        lambda k: k.solved(tanh_through_exp(k)),
        says=named("ex1_tanh/tanh_large_inputs", text="OverflowError"),
        carried=frozenset({"ex2_other_grads/tanh_large_inputs"}),  # the derivative itself is right
        caught_by=named("ex1_tanh/tanh_large_inputs"),
        breaks=TANH,
    ),
    Case(
        "bug_neuron_no_bias",
        "a Neuron without bias (no attribute, not in parameters, not in the output)",
        lambda k: k.solved(neuron_without_bias(k)),
        says=named(
            "ex3_neuron/weights_and_bias",
            "ex3_neuron/parameters_in_order",
            "ex3_neuron/output",
            "ex3_neuron/linear_neuron",
            text="no attribute 'bias'",
        )
        | named("ex3_neuron/random_uniform_start", text="numbers random.uniform(-1, 1) draws")
        | named("ex3_neuron/one_input", text="expected 2, got 1"),
        # Layer and MLP are right: with the reference Neuron their counts and outputs are right
        carried=frozenset(
            {
                "ex3_layer/parameter_count",
                "ex3_layer/linear_layer",
                "ex3_mlp/parameter_count",
                "ex3_mlp/last_layer_linear",
                "ex3_mlp/deeper_network",
                "ex3_mlp/single_layer",
                "ex3_mlp/zero_grad",  # it compares the grads of all 46 parameters
                "ex3_train_xor/three_exact_steps",  # it needs the weight and the bias
            }
        ),
        passes=NEURON_GRAPH,  # the inputs are in the graph all the same
        breaks="Neuron",
    ),
    Case(
        "bug_layer_bare_value",
        "a Layer of one neuron returns the bare Value, not a list",
        lambda k: k.solved(
            rewrite(k.answers, "mlp_classes", "return [neuron(x) for neuron", body("layer_bare_value"))
        ),
        says=named("ex3_layer/one_neuron_still_a_list", text="not the bare Value"),
        carried=frozenset({"ex3_mlp/output_list", "ex3_mlp/last_layer_linear", "ex3_mlp/single_layer"})
        | TRAINING,
        caught_by=named("ex3_layer/one_neuron_still_a_list"),
        breaks="Layer",
    ),
    Case(
        "bug_nonlinear_last_layer",
        "tanh in every layer, the last one too",
        lambda k: k.solved(swap(k.answers, "mlp_classes", "non_linear=(i != last)", "non_linear=True")),
        says=named(
            "ex3_mlp/last_layer_linear", "ex3_mlp/deeper_network", "ex3_mlp/single_layer", text="linear"
        ),
        # a target of 2.0 is out of tanh's reach; one neuron with tanh is no linear model
        carried=frozenset({"ex3_train_xor/fits_three_points", "ex3_train_xor/three_exact_steps"}),
        caught_by=named("ex3_mlp/last_layer_linear", "ex3_mlp/deeper_network", "ex3_mlp/single_layer"),
        breaks="MLP",
    ),
    Case(
        "bug_no_zero_grad",
        "training without zero_grad: every step adds all the previous gradients",
        lambda k: k.solved(drop_line(k.answers, "training", "model.zero_grad()")),
        says=named(*TRAINING),
        breaks="train",
    ),
    Case(
        "bug_loss_summed",
        "the loss summed instead of averaged: four times the gradient, and XOR's training diverges",
        lambda k: k.solved(
            swap(
                k.answers,
                "training",
                "zip(predictions, targets)) / len(inputs)",
                "zip(predictions, targets))",
            )
        ),
        # (measured with the reference engine: the three-point fit still converges)
        says=named("ex3_train_xor/learns_xor", text="loss summed instead of averaged")
        | named("ex3_train_xor/three_exact_steps", text="losses: expected"),
        passes=named("ex3_train_xor/fits_three_points"),
        breaks="train",
    ),
    Case(
        "bug_tanh_no_chain",
        "tanh's closure forgets `* grad`: right only when tanh is the root",
        lambda k: k.solved(swap(k.answers, "value_class", "(1.0 - t**2) * grad", "(1.0 - t**2)")),
        says=named("ex2_other_grads/tanh_chain", text="the chain rule"),
        carried=TRAINING_WITH_TANH,
        caught_by=named("ex2_other_grads/tanh_chain"),
        breaks="Value.tanh._backwards",
    ),
    Case(
        "bug_div_no_chain",
        "the quotient's closure forgets `* grad`: right only when the division is the root",
        lambda k: k.solved(
            swap(
                swap(
                    k.answers, "value_class", "self.grad += grad / other.data", "self.grad += 1 / other.data"
                ),
                "value_class",
                "other.data / other.data * grad",
                "other.data / other.data",
            )
        ),
        says=named("ex2_other_grads/div_chain", text="the chain rule"),
        passes=named("ex2_other_grads/div_gradients"),  # the division is the root there
        breaks="Value.__truediv__._backwards",
    ),
)
