"""How much output a graded cell keeps, in bytes (nbgrader's `LimitOutput` counts lines only).

A student cell that prints one 20 MB line passes nbgrader's line limit whole: the autograded
notebook and the feedback page both grow by 20 MB, and a loop that prints for the whole cell
timeout can fill the grader's memory before any limit applies. `OutputBudget` caps what each cell
keeps *while it runs*, as the kernel's messages arrive: text is cut at the budget with a note
saying so, a larger image or HTML is replaced by a note, further outputs of the cell are dropped,
and an error keeps its name with a shortened message and traceback. What counts is what the cell
keeps: output it cleared (`clear_output`, a live plot's frames) frees its share, and updating a
display by its id (`display(..., display_id=True).update(...)`) is held to the same budget.
"""

from __future__ import annotations

import json

import nbformat
from traitlets import Integer
from traitlets.config import Configurable

NOTE = "\n[output cut here: a graded cell keeps {limit:,} bytes of output, this one printed more]\n"
REMOVED = "[an output of {size:,} bytes was removed: a graded cell keeps {limit:,} bytes of output]"
ERROR_TEXT = 2_000  # characters kept of an error's message and of each traceback line
ERROR_LINES = 100  # traceback lines kept (nbgrader's LimitOutput.max_traceback)


def size(output) -> int:
    """The characters an output holds: its text, its data (base64 images count as written) and
    metadata, or its error's name, message and traceback."""
    if output.output_type == "stream":
        return len(output.get("text", ""))
    if output.output_type == "error":
        traceback = sum(len(line) for line in output.get("traceback", []))
        return len(output.get("ename", "")) + len(output.get("evalue", "")) + traceback
    return _data_size(output.get("data", {})) + _metadata_size(output.get("metadata"))


def _metadata_size(metadata) -> int:
    return len(json.dumps(metadata, default=str)) if metadata else 0


def _data_size(data: dict) -> int:
    return sum(len(value) if isinstance(value, str) else len(json.dumps(value)) for value in data.values())


class OutputBudget(Configurable):
    """A mixin for an nbclient executor (nbgrader's Execute): every cell keeps at most
    `max_output_bytes` of output. Call `reset_output_budget()` before each notebook run."""

    max_output_bytes = Integer(
        100_000, help="Characters of output a cell keeps (text, images, errors); 0 for no limit."
    ).tag(config=True)

    _used: dict[int, int]
    _noted: set[int]

    def reset_output_budget(self) -> None:
        self._used, self._noted = {}, set()

    def _forget(self, cell_index: int) -> None:
        if hasattr(self, "_used"):
            self._used.pop(cell_index, None)
            self._noted.discard(cell_index)

    def clear_output(self, outs, msg, cell_index):
        super().clear_output(outs, msg, cell_index)
        if not outs:  # cleared now; a clear with wait=True happens at the next output (below)
            self._forget(cell_index)

    def _update_display_id(self, display_id, msg):
        """nbclient rewrites every output shown under `display_id` (in any cell) without passing
        through `output`: the update is kept only if each of those cells stays within its budget,
        else those outputs get a note instead of its data."""
        limit = self.max_output_bytes
        targets = self._display_id_map.get(display_id, {}) if limit and limit > 0 else {}
        if targets:
            if not hasattr(self, "_used"):
                self.reset_output_budget()
            content = msg.get("content") or {}
            needed = _data_size(content.get("data") or {}) + _metadata_size(content.get("metadata"))
            growth = {}
            for cell_index, indices in targets.items():
                outputs = self.nb.cells[cell_index].get("outputs", [])
                before = sum(size(outputs[i]) for i in indices if i < len(outputs))
                growth[cell_index] = needed * len(indices) - before
            if all(self._used.get(c, 0) + grown <= limit for c, grown in growth.items()):
                for c, grown in growth.items():
                    self._used[c] = self._used.get(c, 0) + grown
            else:
                note = {"text/plain": REMOVED.format(size=needed, limit=limit)}
                msg = {**msg, "content": {**content, "data": note, "metadata": {}}}
                for c in growth:
                    self._used[c] = limit
        super()._update_display_id(display_id, msg)

    def output(self, outs, msg, display_id, cell_index):
        clearing = getattr(self, "clear_before_next_output", False)
        out = super().output(outs, msg, display_id, cell_index)
        if clearing and not self.clear_before_next_output:  # nbclient has just cleared the outputs
            self._forget(cell_index)
        limit = self.max_output_bytes
        if out is None or not limit or limit <= 0:
            return out
        if not hasattr(self, "_used"):
            self.reset_output_budget()
        used = self._used.get(cell_index, 0)
        needed = size(out)
        if used + needed <= limit:
            self._used[cell_index] = used + needed
            return out
        self._used[cell_index] = limit
        room = max(0, limit - used)
        if out.output_type == "error":
            out.ename = out.get("ename", "")[:ERROR_TEXT]
            out.evalue = out.evalue[:ERROR_TEXT]
            out.traceback = [line[:ERROR_TEXT] for line in out.traceback[-ERROR_LINES:]]
            return out
        if out.output_type == "stream" and room:
            out.text = out.text[:room] + NOTE.format(limit=limit)
            self._noted.add(cell_index)
            return out
        if display_id is None and outs and outs[-1] is out:
            outs.pop()  # nothing refers to it: drop it
            if cell_index not in self._noted:
                self._noted.add(cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=NOTE.format(limit=limit)))
            return None
        # a display that may be updated later by its id: keep its place, not its content
        out.data = {"text/plain": REMOVED.format(size=needed, limit=limit)}
        out.metadata = {}
        return out
