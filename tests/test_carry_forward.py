"""Error carried forward (gradekit.checks.carry_forward): worlds made of the reference solution and the
student's pieces, run here in a plain Python subprocess (the grader runs them in a sandboxed
kernel)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import pytest

from gradekit.checks import carry_forward as cf
from gradekit.course.notebooks import nbgrader_meta, read
from simulation.course import SOURCE_NOTEBOOK
from simulation.reference import solution_code
from simulation.submissions import reference_answers

pytestmark = pytest.mark.course


@pytest.fixture(scope="module")
def reference():
    return cf.parse_cells([solution_code()])


def student(*swaps: tuple[str, str]) -> str:
    """The reference solution's code with each (old, new) replaced once."""
    code = solution_code()
    for old, new in swaps:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


def in_world(reference, code: str, pieces, probe: str) -> object:
    """Run `code` (a student's definitions), enter the world of `pieces`, run `probe` (an
    expression) and return its value, in a fresh interpreter."""
    world = cf.world(reference, cf.parse_cells([code]), pieces)
    script = f"{code}\n{world.code}\nimport json\nprint(json.dumps({probe}))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


SLOPE_OF_TANH = "(lambda x: (x.tanh().backward(), x.grad)[1])(Value(0.5))"
TANH_SLOPE = 1 - 0.46211715726000974**2


def test_a_closure_is_judged_with_the_reference_forward(reference):
    # tanh's data wrong (tanh(x / 2)), its closure right: 1 - t**2 with the reference t is right
    code = student(("t = math.tanh(self.data)", "t = math.tanh(self.data / 2)"))
    own = in_world(reference, code, cf.pieces_of(cf.parse_cells([code])), SLOPE_OF_TANH)
    carried = in_world(reference, code, {"Value.tanh._backwards"}, SLOPE_OF_TANH)
    assert own != pytest.approx(TANH_SLOPE)
    assert carried == pytest.approx(TANH_SLOPE)


def test_a_wrong_closure_stays_wrong_in_its_own_world(reference):
    code = student(("(1.0 - t**2)", "(1.0 - self.data**2)"))
    assert in_world(reference, code, {"Value.tanh._backwards"}, SLOPE_OF_TANH) == pytest.approx(0.75)


def test_a_method_is_judged_with_the_reference_closure(reference):
    # `*` computes a + b (wrong forward) with a right closure: the forward piece stays wrong
    code = student(("Value(self.data * other.data", "Value(self.data + other.data"))
    assert in_world(reference, code, {"Value.__mul__"}, "(Value(2.0) * Value(3.0)).data") == 5.0
    assert in_world(reference, code, {"Value.__neg__"}, "(-Value(2.0)).data") == -2.0


# tanh written with names of the student's own: `me` for self, `node` for out, no local `t`
OWN_NAMES_TANH = """    def tanh(me):
        node = Value(math.tanh(me.data{forward}), children=(me,), op="tanh")

        def _back(g):
            me.grad += (1.0 - node.data ** 2) * g{closure}

        node._backwards = _back
        return node
"""


def with_own_names(forward: str = "", closure: str = "") -> str:
    """The reference, its tanh written as OWN_NAMES_TANH (with a mistake in `forward` or `closure`)."""
    code = solution_code()
    start = code.index("    def tanh(self):")
    end = code.index("    def __neg__(self):")
    return code[:start] + OWN_NAMES_TANH.format(forward=forward, closure=closure) + "\n" + code[end:]


def test_carried_forward_whatever_the_student_calls_self_the_node_and_the_locals(reference):
    """A world puts the reference's closure in the student's method, or the student's closure in
    the reference's method: the names each reads are the other's (`me`, `node`, no `t`), mapped by
    position and by what the method returns, and a local the host lacks is computed again."""
    # forward wrong, closure right: the closure, with the reference's forward, is right
    code = with_own_names(forward=" / 2")
    assert in_world(reference, code, {"Value.tanh._backwards"}, SLOPE_OF_TANH) == pytest.approx(TANH_SLOPE)
    # closure wrong (twice the slope), forward right: the forward, with the reference closure
    # (which reads `self`, `out` and `t`, none of which the student's method has), is right
    code = with_own_names(closure=" * 2")
    assert in_world(reference, code, {"Value.tanh"}, SLOPE_OF_TANH) == pytest.approx(TANH_SLOPE)
    own_closure = in_world(reference, code, {"Value.tanh._backwards"}, SLOPE_OF_TANH)
    assert own_closure == pytest.approx(2 * TANH_SLOPE)


def test_the_network_is_judged_with_the_reference_engine(reference):
    code = student(
        ("self.grad += other.data * grad", "self.grad = other.data * grad"),
        ("other.grad += self.data * grad", "other.grad = self.data * grad"),
    )
    probe = "(lambda a: ((a * a).backward(), a.grad)[1])(Value(3.0))"
    assert in_world(reference, code, {"Value.__mul__._backwards"}, probe) == 3.0  # its own `=`
    assert in_world(reference, code, {"train"}, probe) == 6.0  # the reference engine


def test_no_reference_version_of_a_judged_piece_exists_in_its_world(reference):
    code = student(("losses.append(loss.data)", "losses.append(loss.data)  # mine"))
    probe = (
        "sorted(getattr(f, '__module__', '?') + ':' + f.__code__.co_filename "
        "for f in __import__('gc').get_objects() if callable(f) and getattr(f, '__name__', '') == 'train')"
    )
    trains = in_world(reference, code, {"train"}, probe)
    assert len(trains) == 1, trains  # only the student's own train exists
    values = in_world(
        reference,
        code,
        {"Value.tanh._backwards"},
        "sum(1 for o in __import__('gc').get_objects() if isinstance(o, type) and o.__name__ == 'Value')",
    )
    assert values == 2  # the student's own class and the hybrid, never the reference class


def test_the_students_helpers_come_along_and_special_methods_do_not(reference):
    ref_class = cf.definitions(reference)["Value"]
    mine = ast.parse(
        textwrap.dedent(
            """
            class Value:
                def __eq__(self, other):
                    return True

                def _wrap(self, other):
                    return other

                def __add__(self, other):
                    out = 0
                    def step(grad):
                        self._wrap(grad)
                    out._backwards = step
                    return out
            """
        )
    ).body[0]
    hybrid = cf.hybrid_class(ref_class, mine, {"Value.__add__._backwards"})
    members = cf.members(hybrid)
    assert "_wrap" in members and "__eq__" not in members
    closure = cf.nested_function(members["__add__"])
    assert closure.name == "_backwards" and "self._wrap(grad)" in ast.unparse(closure)
    assert "Value(self.data + other.data" in ast.unparse(members["__add__"])  # the reference forward


def test_a_class_that_cannot_be_taken_apart_is_used_whole(reference):
    code = "from fractions import Fraction as Value\n"
    world = cf.world(reference, cf.parse_cells([code]), {"Value.__add__"})
    assert "'Value'" in world.code.split("_gradekit_world(", 2)[2]  # the student's Value, whole


def test_definitions_only_keeps_what_defines_and_drops_what_runs():
    source = textwrap.dedent(
        """
        import math
        XOR_STEPS = 250
        Value.__radd__ = Value.__add__
        model = MLP([2, 8, 1])
        print(train(model))
        while True:
            pass
        try:
            import graphviz
        except ImportError:
            graphviz = None
        def f():
            return 1
        """
    )
    kept = cf.definitions_only(source)
    assert kept.splitlines() == [
        "import math",
        "XOR_STEPS = 250",
        "Value.__radd__ = Value.__add__",
        "try:",
        "    import graphviz",
        "except ImportError:",
        "    graphviz = None",
        "",
        "def f():",
        "    return 1",
    ]
    assert cf.definitions_only("print(1)") is None
    assert cf.definitions_only("def broken(:") is None


def test_a_piece_left_as_released_is_unwritten(reference):
    release_nb = read(
        SOURCE_NOTEBOOK.parent.parent.parent / "release" / "mini_auto_grad" / "mini_auto_grad.ipynb"
    )
    release = cf.parse_cells(c.source for c in release_nb.cells if nbgrader_meta(c).get("solution"))
    answers = reference_answers(SOURCE_NOTEBOOK)
    assert cf.unwritten(release, release, {"train", "Value.__add__._backwards"})
    assert not cf.unwritten(reference, release, {"train"})
    assert cf.unwritten([], release, {"train"})  # missing altogether
    assert answers  # (the reference has answers for every stub)
    # a piece given whole (the constructor) is the student's own as released: its world can pass
    assert cf.unwritten(release, release, {"Value.__init__"})
    assert not cf.unwritten(release, release, {"Value.__init__"}, reference)
    assert cf.unwritten(release, release, {"Value.__init__", "train"}) and not cf.unwritten(
        release, release, {"Value.__init__", "train"}, reference
    )


def test_a_class_changed_outside_its_body_is_never_taken_apart(reference):
    """The class the student's notebook really runs is not its body alone: a method set later (or
    a class decorator) would be lost in a hybrid, which could then credit code that is wrong."""
    code = student(
        ("class Value:", "@functools.total_ordering\nclass Value:"),
    )
    patched = solution_code() + "\ndef _my_tanh(self):\n    return self\n\nValue.tanh = _my_tanh\n"
    for source in (code, patched):
        world = cf.world(reference, cf.parse_cells([source]), {"Value.tanh._backwards"})
        assert "class Value" not in world.code, "no hybrid class"
        assert "['Value']" in world.code, "the student's Value, whole"
    plain = cf.world(reference, cf.parse_cells([solution_code()]), {"Value.tanh._backwards"})
    assert "class Value" in plain.code


def test_lambdas_are_definitions_and_lambda_closures_are_written_pieces(reference):
    kept = cf.definitions_only(
        "sigmoid = lambda x: 1 / (1 + math.exp(-x))\nValue.__rsub__ = lambda s, o: Value(o) - s\n"
    )
    assert kept == "sigmoid = lambda x: 1 / (1 + math.exp(-x))\nValue.__rsub__ = lambda s, o: Value(o) - s"
    assert cf.definitions_only("f = (lambda x=print('now'): x)") is None  # a default runs at once
    closure = (
        "        def _backwards(grad):\n"
        '            """Exercise 2 (sum rule): d(a + b)/da = 1 and d(a + b)/db = 1."""\n'
        "            ### BEGIN SOLUTION\n"
        "            self.grad += grad\n"
        "            other.grad += grad\n"
        "            ### END SOLUTION\n\n"
        "        out._backwards = _backwards\n"
    )
    as_lambda = (
        "        out._backwards = lambda grad: (\n"
        '            setattr(self, "grad", self.grad + grad), setattr(other, "grad", other.grad + grad)\n'
        "        )\n"
    )
    code = student((closure, as_lambda))
    mine = cf.parse_cells([code])
    assert "lambda grad" in cf.piece_source(mine, "Value.__add__._backwards")
    release_nb = read(
        SOURCE_NOTEBOOK.parent.parent.parent / "release" / "mini_auto_grad" / "mini_auto_grad.ipynb"
    )
    release = cf.parse_cells(c.source for c in release_nb.cells if nbgrader_meta(c).get("solution"))
    assert not cf.unwritten(mine, release, {"Value.__add__._backwards"})
