"""The pictures students look at: the computational graph (graphviz, or text without it) and the
XOR training curves."""

import os
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from simulation.course import SOURCE_NOTEBOOK

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(
    not HAS_DOT and not os.environ.get("CI"),
    reason="graphviz's `dot` is not installed (CI installs it; apt-get install graphviz)",
)


def worked_example(ref, backward: bool):
    x1, x2, x4, x6 = ref.Value(3), ref.Value(4), ref.Value(5), ref.Value(2)
    x3 = x1 * x2
    x5 = x4 + x3
    l = x5 * x6  # noqa: E741 (the workshop's name)
    if backward:
        l.backward()
    return l, locals()


@needs_dot
def test_graph_is_drawn_with_graphviz(ref):
    root, names = worked_example(ref, backward=True)
    picture = ref.draw_graph(root, names=names)
    source = picture.source
    for box in (
        "x1 | data 3 | grad 8",
        "x2 | data 4 | grad 6",
        "x5 | data 17 | grad 2",
        "l | data 34 | grad 1",
    ):
        assert box in source, box
    assert source.count("shape=circle") == 3, "one circle per operation: *, +, *"
    svg = picture.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "data 34" in svg


def test_graph_falls_back_to_text_without_dot(ref, monkeypatch):
    monkeypatch.setattr(ref.shutil, "which", lambda program: None)
    root, names = worked_example(ref, backward=True)
    text = repr(ref.draw_graph(root, names=names))
    assert text.splitlines() == [
        "(graphviz is not available here, so the graph is shown as text)",
        "l: data 34  grad 1  [*]",
        "├── x5: data 17  grad 2  [+]",
        "│   ├── x4: data 5  grad 2",
        "│   └── x3: data 12  grad 2  [*]",
        "│       ├── x1: data 3  grad 8",
        "│       └── x2: data 4  grad 6",
        "└── x6: data 2  grad 17",
    ]


def test_text_fallback_without_the_graphviz_package_and_shared_nodes(ref, monkeypatch):
    monkeypatch.setattr(ref, "graphviz", None)
    a = ref.Value(2.0)
    b = a * a
    c = b + b
    lines = repr(ref.draw_graph(c)).splitlines()[1:]
    assert lines == [
        "data 8  grad 0  [+]",
        "├── data 4  grad 0  [*]",
        "│   ├── data 2  grad 0",
        "│   └── data 2  grad 0",
        "└── data 4  grad 0  [*]  (shown above)",
    ]


def test_deep_graph_text_needs_no_recursion(ref, monkeypatch):
    monkeypatch.setattr(ref, "graphviz", None)
    node = ref.Value(1.0)
    for _ in range(3000):
        node = node.tanh()
    assert len(repr(ref.draw_graph(node)).splitlines()) == 3002


@pytest.mark.course
@needs_dot
def test_notebook_shows_its_pictures(monkeypatch):
    """Executed as a student would: the graph renders as SVG before and after backward, and the
    training cell draws its figure; under the autograder the figure is skipped."""
    for execution, expect_figure in ((None, True), ("autograde", False)):
        if execution:
            monkeypatch.setenv("NBGRADER_EXECUTION", execution)
        nb = nbformat.read(SOURCE_NOTEBOOK, 4)
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
        mimes = [set(o.get("data", {})) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert sum("image/svg+xml" in m for m in mimes) == 2, "the worked example, before and after"
        assert any("image/png" in m for m in mimes) == expect_figure
