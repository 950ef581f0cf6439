"""Adversarial submissions: tampering, forging, endless loops, broken files."""

from __future__ import annotations

import nbformat

from simulation.builders import (
    assign_in_mul,
    inflated_points,
    loop_in_method,
    micrograd,
    no_train,
    retyped_test_cell,
    set_source,
    stripped_metadata,
    wrong_tanh_data,
)
from simulation.editing import (
    FORGING,
    POW_CHECK,
    SNIPPETS,
    append,
    body,
    delete,
    forging,
    prepend,
    rewrite,
    snippet,
    swap,
)
from simulation.expectations import (
    DISTINCT_NODES,
    ORDER,
    TRAINING,
    TRAINING_WITH_TANH,
    Case,
    named,
    testing,
    within,
)

# micrograd's Value has _prev/_op, no children/op/tanh/backwards, and never resets grads
MICROGRAD_SAYS = (
    named(
        "ex1_add_mul/leaf_and_sum",
        "ex1_add_mul/sum_children",
        "ex1_add_mul/product_children",
        "ex1_add_mul/operands_untouched",
        "ex1_add_mul/sum_op",
        "ex1_add_mul/product_op",
        "ex1_add_mul/children_are_tuples",
        "ex1_add_mul/children_in_operand_order",
        "ex1_sub_div_pow/sub_graph",
        "ex1_sub_div_pow/div_graph",
        "ex1_sub_div_pow/pow_graph",
        "ex1_sub_div_pow/neg_graph",
        "ex1_sub_div_pow/sub_same_node",
        "ex1_sub_div_pow/neg_twice",
        "ex1_reflected_and_numbers/number_becomes_a_child",
        text="no attribute",
    )
    | named(*testing("Value.tanh", cells=["ex1_tanh"]), text="no attribute 'tanh'")
    | named(
        "ex2_other_grads/tanh_slope",
        "ex2_other_grads/tanh_chain",
        "ex2_other_grads/tanh_negative",
        "ex2_other_grads/tanh_zero",
        "ex2_other_grads/tanh_large_inputs",
        "ex2_backward/backwards_alias",
        "ex2_backward/value_zero_grad",
        text="no attribute",
    )
    | named("ex2_backward/backward_twice", "ex2_backward/intermediate_reset", text="expected")
)

CASES: tuple[Case, ...] = (
    # -- adversarial ---------------------------------------------------------------------------------
    Case(
        "adv_assert_true",
        "the failing test cell replaced by `assert True`",
        lambda k: set_source(k.solved(no_train(k)), "ex3_train_xor", "assert True\n"),
        # nbgrader restores the locked cell from the gradebook: train() is still a stub
    ),
    Case(
        "adv_deleted_tests",
        "the `=`-instead-of-`+=` student deletes two of the test cells that fail",
        lambda k: delete(k.solved(assign_in_mul(k)), "ex2_reused_nodes", "ex2_backward"),
        says={  # add_missing_cells puts them back
            "ex2_add_mul_grads/shared_operand": "uses b twice",
            "ex2_reused_nodes/product_of_a_node_with_itself": "d(a * a)/da = 2a",
            "ex2_reused_nodes/node_used_on_two_paths": "expected 48.0",
        },
        carried=frozenset({"ex2_backward/two_roots_add_up", "ex2_backward/backward_twice"}) | TRAINING,
        breaks="Value.__mul__._backwards",
        passes=named(
            "ex2_add_mul_grads/product_gradients",
            "ex2_add_mul_grads/worked_example",
            "ex2_add_mul_grads/zero_operand",
        ),
    ),
    Case(
        "adv_stripped_metadata",
        "the `2 - v` student strips the nbgrader metadata of the failing test cell and edits it",
        stripped_metadata,
        # the stripped cell is an ordinary cell; the test cell is missing, so it is put back
        says=named(
            "ex1_reflected_and_numbers/number_minus", "ex1_reflected_and_numbers/zero_minus", text="expected"
        ),
        breaks="Value.__rsub__",
    ),
    Case(
        "adv_retyped_test_cell",
        "a test cell's metadata changed to `solution: true` (a manually graded answer), ex3 not done",
        retyped_test_cell,
        # gradekit.grading.sanitize.RestoreCells restores the flags (nbgrader's OverwriteCells stopped on
        # "Inconsistent checksums" and left the student ungraded) and logs the change
    ),
    Case(
        "adv_inflated_points",
        "the points of the ex1 test cells raised to 100 in the metadata",
        inflated_points,
        passes=DISTINCT_NODES,  # the gradebook's points count, not the notebook's
    ),
    Case(
        "adv_loop_in_method",
        "MLP.zero_grad loops forever (i += 1 forgotten); train zeroes the gradients itself",
        lambda k: k.solved(loop_in_method(k)),
        says=named("ex3_mlp/zero_grad", text="took too long"),  # the check's time limit stops it
        breaks="MLP",
        caught_by=named("ex3_mlp/zero_grad"),
    ),
    Case(
        "adv_check_ignores_its_limit",
        "__pow__ cancels the grader's alarm and loops forever, ignoring every exception, for "
        "Value(-3.0) ** 3 only (one hidden check asks exactly that)",
        lambda k: k.solved(
            swap(k.answers, "value_class", POW_CHECK, body("hang_on_minus_three") + "\n" + POW_CHECK)
        ),
        # that check keeps running after its limit: the grader stops the kernel, runs the notebook
        # again without it, and every other check (the next one of that cell too) is graded as usual
        says=named("ex1_sub_div_pow/pow_negative_base", text="kept running after its time limit"),
        breaks="Value.__pow__",
        review=True,
        caught_by=named("ex1_sub_div_pow/pow_negative_base"),
    ),
    Case(
        "adv_loop_after_class",
        "a `while True: pass` left after the classes in a solution cell",
        lambda k: append(k.solved(), "mlp_classes", "while True:\n    pass\n"),
        # the cell times out, but the classes above the loop exist already
        timeouts=1,
    ),
    Case(
        "adv_sigint_ignored",
        "a loop that ignores interrupts: SIGINT set to SIG_IGN, then `while True`",
        lambda k: append(
            k.solved(),
            "training",
            "import signal\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
        ),
        # the kernel ignores the interrupt at the time limit: it is stopped, and the notebook runs
        # again with that cell's definitions only (its import and train(), not the loop): train()
        # is graded as written, and the cell's feedback says what was kept
        review=True,
        timeouts=1,
    ),
    Case(
        "adv_sys_exit_cell",
        "sys.exit() at the end of a solution cell",
        lambda k: append(k.solved(), "topological_order", "import sys\n\nsys.exit()\n"),
        # IPython turns SystemExit into an error output of that (ungraded) cell; the kernel lives
        review=True,
    ),
    Case(
        "adv_sys_exit_in_train",
        "train() calls sys.exit(0), hoping the check ends 'successfully'",
        lambda k: k.solved(swap(k.answers, "training", "losses = []\n", "import sys\nsys.exit(0)\n")),
        says=named(*TRAINING, text="raised SystemExit"),
        review=True,
        breaks="train",
    ),
    Case(
        "adv_os_exit",
        "os._exit(0) at the end of the training cell: the kernel process dies",
        lambda k: append(k.solved(), "training", "import os\n\nos._exit(0)\n"),
        # the grader runs the notebook again with that cell's definitions only, which define train
        review=True,
    ),
    Case(
        "adv_os_exit_in_one_place",
        "os._exit(0) in one method, __rtruediv__: the kernel dies while one check runs",
        lambda k: k.solved(
            swap(k.answers, "value_class", "return Value(other) / self", "import os\nos._exit(0)")
        ),
        says=named("ex1_reflected_and_numbers/number_over", text="the kernel stopped"),
        review=True,
        breaks="Value.__rtruediv__",
    ),
    Case(
        "adv_eq_lies",
        "Value.__eq__ always True, on top of a `*` that adds (ex1 only)",
        lambda k: append(
            k.solved(swap(k.only("ex1"), "value_class", "self.data * other.data", "self.data + other.data")),
            "value_class",
            "Value.__eq__ = lambda self, other: True\n",
        ),
        # negation and the reflected product call `*`; and Value, patched from outside its body,
        # is judged whole (no reference `*` in its place), so they fail as well
        says=named(
            "ex1_add_mul/product_data",
            "ex1_reflected_and_numbers/times_number",
            "ex1_reflected_and_numbers/times_float",
            "ex1_reflected_and_numbers/number_times",
            "ex1_reflected_and_numbers/negative_times",
            "ex1_sub_div_pow/neg_data",
            "ex1_sub_div_pow/neg_twice",
            text="expected",
        )
        | named("ex1_add_mul/nodes_are_distinct", text="equal: expected False, got True"),
        review=True,
        # a class patched from outside its body is judged whole: all of Value is the student's
        breaks=within("Value"),
        caught_by=frozenset(
            named(
                "ex1_add_mul/product_data",
                "ex1_reflected_and_numbers/times_number",
                "ex1_reflected_and_numbers/times_float",
                "ex1_reflected_and_numbers/number_times",
                "ex1_reflected_and_numbers/negative_times",
                "ex1_sub_div_pow/neg_data",
                "ex1_sub_div_pow/neg_twice",
                "ex1_add_mul/nodes_are_distinct",
            )
        ),
    ),
    Case(
        "adv_float_lies",
        "Value.__float__ returns 0.0 and train() returns float(loss) without ever stepping",
        lambda k: append(
            k.solved(rewrite(k.answers, "training", "losses = []", body("train_float_lies"))),
            "value_class",
            "Value.__float__ = lambda self: 0.0\n",
        ),
        says=named(*TRAINING_WITH_TANH, text="the loss should fall")
        | named("ex3_train_xor/three_exact_steps", text="losses: expected"),
        review=True,
        breaks="train",  # (Value.__float__ is patched too, and no check of Value uses float())
    ),
    Case(
        "adv_isclose_patched",
        "math.isclose patched to always say True, on top of a wrong tanh (ex1 only)",
        lambda k: append(
            k.solved(wrong_tanh_data(k)), "value_class", "math.isclose = lambda *args, **kwargs: True\n"
        ),
        # the verdicts are taken in the grader's process, whose math is its own
        breaks="Value.tanh",
        passes=DISTINCT_NODES
        | named("ex1_tanh/tanh_child", "ex1_tanh/tanh_op", "ex1_tanh/tanh_large_inputs").keys(),
        says=named("ex1_tanh/tanh_data", "ex1_tanh/tanh_values", text="use math.tanh(self.data)"),
        review=True,
    ),
    Case(
        "adv_abs_patched",
        "builtins.abs patched to return 0.0, on top of a wrong tanh (ex1 only)",
        lambda k: append(
            k.solved(wrong_tanh_data(k)), "value_class", "import builtins\n\nbuiltins.abs = lambda x: 0.0\n"
        ),
        breaks="Value.tanh",
        passes=DISTINCT_NODES
        | named("ex1_tanh/tanh_child", "ex1_tanh/tanh_op", "ex1_tanh/tanh_large_inputs").keys(),
        says=named("ex1_tanh/tanh_data", "ex1_tanh/tanh_values", text="use math.tanh(self.data)"),
        review=True,
    ),
    Case(
        "adv_display_hook",
        "the untouched release plus an input transformer that displays 'ok' at the start of every cell",
        lambda k: prepend(nbformat.from_dict(k.release), "value_class", snippet("display_hook")),
        review=True,
    ),
    Case(
        "adv_try_everything",
        "the untouched release plus an input transformer that wraps every later cell in try/except",
        lambda k: prepend(nbformat.from_dict(k.release), "value_class", snippet("try_everything")),
        review=True,
    ),
    Case(
        "adv_ast_transformer",
        "exercise 1 only, plus an AST transformer that deletes every later `raise` and `assert`",
        lambda k: append(k.solved(k.only("ex1")), "value_class", snippet("ast_transformer")),
        passes=DISTINCT_NODES,
        unwritten_says=None,  # the stubs no longer raise: the checks see None instead
        review=True,
    ),
    Case(
        "adv_patched_checks",
        "the untouched release plus fake check helpers: `check`, `report` and the kit's module "
        "replaced in sys.modules",
        lambda k: prepend(nbformat.from_dict(k.release), "value_class", snippet("patched_checks")),
        # the checks run in the grader: the kernel's copy is never used, and every stub fails
        review=True,
    ),
    Case(
        "adv_read_everything",
        "the reference solution, plus code that reads every file it can and prints it base64-encoded",
        lambda k: append(k.solved(), "value_class", snippet("read_everything")),
        review=True,
    ),
    Case(
        "adv_stderr_warning",
        "the reference, with a warnings.warn() in train (correct code that writes to stderr)",
        lambda k: k.solved(
            swap(
                k.answers,
                "training",
                "losses = []\n",
                "import warnings\nwarnings.warn('lr may be high')\nlosses = []\n",
            )
        ),
    ),
    Case(
        "adv_micrograd",
        "a ready-made autograd: `from micrograd.engine import Value` instead of writing the class",
        micrograd,
        # micrograd's Value has _prev/_op, no children/op/tanh/backwards, and never resets grads
        says=MICROGRAD_SAYS,
        # the student's own order function and network are the reference's: with the reference
        # Value (which has .children and tanh) they pass; one linear neuron needs no tanh
        breaks=within("Value"),  # a class of its own, none of whose pieces is the course's
        caught_by=MICROGRAD_SAYS.keys(),
        carried=testing(ORDER, cells=["ex2_topological_order"])
        | frozenset(
            {
                "ex3_neuron/output",
                "ex3_layer/output_list",
                "ex3_layer/one_neuron_still_a_list",
                "ex3_mlp/deeper_network",
                "ex3_mlp/last_layer_linear",
                "ex3_mlp/output_list",
            }
        )
        | (TRAINING - {"ex3_train_xor/three_exact_steps"}),
        requires="micrograd",
        review=True,
    ),
    *(
        Case(
            f"adv_{technique}",
            f"the untouched release plus forged results for guessable checks, from {how}",
            forging(technique),
            # nothing it writes is an answer to a question of the grader's: every stub fails
            review=True,
        )
        for technique, how in FORGING.items()
    ),
    Case(
        "adv_forge_everything_on_the_reference",
        "the reference solution, plus every forging technique at once",
        lambda k: append(k.solved(), "value_class", snippet("forge_common", *FORGING)),
        review=True,  # its own score, exactly: forged results neither add nor take away
    ),
    Case(
        "adv_invalid_json",
        "a notebook file cut off in the middle (invalid JSON)",
        lambda k: nbformat.writes(k.solved()).encode()[:5000],
        rejected="mini_auto_grad.ipynb is not valid JSON (",
    ),
    Case("adv_empty_file", "an empty file", lambda k: b"", rejected="mini_auto_grad.ipynb is empty"),
    Case(
        "adv_other_assignment",
        "the notebook of another nbgrader assignment, under this assignment's name",
        lambda k: nbformat.read(str(SNIPPETS / "other_assignment.ipynb"), as_version=4),
        rejected="mini_auto_grad.ipynb is the notebook of another assignment (none of its cells belongs to",
    ),
)
