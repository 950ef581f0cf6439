"""Autograde's sanitize steps for notebooks as students' editors leave them.

nbgrader 0.9.6 sanitizes a submission with `DeduplicateIds` and `OverwriteCells` before it runs
it. Both fail on what JupyterLab, VS Code and copy-paste really produce:

* A cell split in two (JupyterLab's *Split Cell*) or copied keeps its nbgrader metadata, so two
  cells share a grade_id. `DeduplicateIds` keeps the last and leaves the others with an empty
  `nbgrader` dict, which `add_missing_cells` then crashes on (`KeyError: 'grade_id'`) and, with
  nbgrader's default config, `CheckCellMetadata` rejects as "old metadata format", stopping the
  whole run. `DeduplicateCells` replaces it.
* Every test cell with hidden tests differs from its gradebook version by exactly those tests, so
  `OverwriteCells` warns "Attribute 'checksum' for cell … has changed!" for every test cell of
  every submission (13 per correct notebook here), burying the warnings that matter. A cell whose
  flags were changed (a test cell marked as a solution) makes it raise "Inconsistent checksums"
  and the submission is not graded. `RestoreCells` replaces it.

`CheckCellMetadata` is nbgrader's, checking against the schema's validator built once: nbgrader
0.9.6 calls `jsonschema.validate` per cell, which checks the schema itself against its meta-schema
every time (10 ms of every call for this notebook's 21 nbgrader cells, 1 ms once built).
"""

from __future__ import annotations

import contextlib
import functools

import jsonschema
from nbformat import NotebookNode
from nbgrader import preprocessors
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator, SchemaTooNewError, SchemaTooOldError
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells

from gradekit.course.notebooks import nbgrader_meta

# What RestoreCells logs for a student's change to a locked cell (the kit's summaries look for it).
CHANGED_LOCKED_CELL = "changed the locked cell"
DELETED_TEST_CELL = "deleted the test cell"


def _strip_nbgrader(cell) -> None:
    cell.metadata.pop("nbgrader", None)


class DeduplicateCells(NbGraderPreprocessor):
    """One cell per grade_id (in `c.Autograde.sanitize_preprocessors`, in place of nbgrader's
    `DeduplicateIds`):

    * a cell whose nbgrader metadata names no grade_id, or one the gradebook does not know (an
      editor's leftovers, another assignment's cell), becomes an ordinary cell;
    * of the cells sharing a *solution* cell's grade_id, the first keeps it and the others become
      ordinary cells where they are: the notebook runs as the student ran it, every line of their
      code included (split markdown answers are joined back into one cell, for manual grading);
    * of the cells sharing any other grade_id (a test, a locked or a task cell), one is kept, the
      first that comes after the cell kept for the previous grade_id of the source notebook (so a
      copy pasted above the code it tests is not the one run), and the others are removed: they
      hold the instructor's content, which `RestoreCells` restores in the kept one anyway.
    """

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            try:
                source = gradebook.find_notebook(info["notebook"], info["assignment"])
                order = [cell.name for cell in source.source_cells]
                solutions = {cell.name for cell in source.solution_cells}
            except MissingEntry:
                return nb, resources
        student = info.get("student", "?")
        places: dict[str, list[int]] = {}
        for index, cell in enumerate(nb.cells):
            meta = nbgrader_meta(cell)
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if "nbgrader" in cell.metadata and grade_id not in order:
                if grade_id is not None:
                    self.log.warning(
                        "%s: cell %r is not a cell of this assignment: graded as an ordinary cell",
                        student,
                        grade_id,
                    )
                _strip_nbgrader(cell)
                continue
            if grade_id is not None:
                places.setdefault(grade_id, []).append(index)
        drop: set[int] = set()
        previous = -1
        for grade_id in order:
            found = places.get(grade_id, [])
            if len(found) <= 1:
                previous = found[0] if found else previous
                continue
            if grade_id in solutions:
                kept = found[0]
                self._demote(nb, kept, found[1:])
                self.log.info(
                    "%s: %d cells carry the solution cell %s: the first is graded as it, "
                    "the others run as ordinary cells",
                    student,
                    len(found),
                    grade_id,
                )
            else:
                kept = next((i for i in found if i > previous), found[-1])
                drop.update(i for i in found if i != kept)
                self.log.info("%s: %d copies of cell %s: one is kept", student, len(found), grade_id)
            previous = kept
        nb.cells = [cell for index, cell in enumerate(nb.cells) if index not in drop]
        return nb, resources

    @staticmethod
    def _demote(nb, kept: int, others: list[int]) -> None:
        joined = kept
        for index in others:
            cell = nb.cells[index]
            if (
                cell.cell_type == "markdown"
                and index == joined + 1
                and nb.cells[kept].cell_type == "markdown"
            ):
                nb.cells[kept].source = nb.cells[kept].source.rstrip("\n") + "\n\n" + cell.source
                cell.source = ""
                joined = index
            _strip_nbgrader(cell)


class RestoreCells(OverwriteCells):
    """nbgrader's `OverwriteCells` (it restores each nbgrader cell from the gradebook), except:

    * a cell's nbgrader flags (grade, solution, locked, points) are restored from the gradebook
      as a whole, so a test cell re-marked as a solution is graded as the test it is;
    * a locked cell whose source is the gradebook's, or the release's (the gradebook's without its
      hidden tests), is restored silently; any other change is logged once, naming the student and
      the cell (`CHANGED_LOCKED_CELL`), and the gradebook's version is graded;
    * a deleted test cell is put back after the nearest earlier cell of the assignment that the
      notebook still has (else before the nearest later one, else at the end), logged by student
      (`DELETED_TEST_CELL`). nbgrader 0.9.6 puts it after the cell just before it in the source
      only, and stops grading the student with a KeyError when that cell was deleted too.
    """

    def preprocess(self, nb, resources):
        """nbgrader's OverwriteCells.preprocess, the notebook's cells read from the gradebook once
        (`_NotebookCells`) rather than in three queries per nbgrader cell."""
        self._student = resources["nbgrader"].get("student", "?")
        self._hidden = ClearHiddenTests(parent=self)
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        with Gradebook(self.db_url) as gradebook:
            self.gradebook = _NotebookCells(gradebook, self.notebook_id, self.assignment_id)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources

    def report_change(self, name, attr, old, new):
        if attr != "checksum":  # cell type, locked, points: real changes, said by nbgrader
            self.log.warning(
                "%s: cell %s: its %s was changed (%s instead of %s); restored",
                self._student,
                name,
                attr,
                new,
                old,
            )

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id is None:
            return cell, resources
        try:
            source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
        except MissingEntry:
            _strip_nbgrader(cell)
            return cell, resources
        meta = cell.metadata.nbgrader
        grade = self._grade_cell(grade_id)
        wanted = {
            "grade": grade is not None,
            "solution": self._is_solution(grade_id),
            "locked": bool(source_cell.locked),
        }
        if grade is not None:
            wanted["points"] = float(grade.max_score)
        changed = [key for key, value in wanted.items() if meta.get(key) != value]
        if changed:
            self.log.warning(
                "%s: cell %s: its nbgrader flags were changed (%s); restored",
                self._student,
                grade_id,
                ", ".join(changed),
            )
            meta.update(wanted)
            if grade is None:
                meta.pop("points", None)
        if source_cell.locked and not self._as_handed_out(cell.source, source_cell):
            self.log.warning(
                "%s %s %s: the gradebook's version is graded", self._student, CHANGED_LOCKED_CELL, grade_id
            )
        return super().preprocess_cell(cell, resources, cell_index)

    def _grade_cell(self, grade_id):
        try:
            return self.gradebook.find_graded_cell(grade_id, self.notebook_id, self.assignment_id)
        except MissingEntry:
            return None

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [cell.name for cell in source_nb.source_cells]  # the source's order
        source = dict(zip(order, source_nb.source_cells))
        graded = {cell.name: cell for cell in source_nb.grade_cells}
        solutions = {cell.name for cell in source_nb.solution_cells}
        for place, grade_id in enumerate(order):  # in order: a cell put back anchors the next one
            if grade_id not in graded:
                continue
            present = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(nb.cells)}
            if grade_id in present:
                continue
            self.log.warning("%s %s %s: put back and graded", self._student, DELETED_TEST_CELL, grade_id)
            cell = self.missing_cell_transform(
                source[grade_id], graded[grade_id].max_score, is_solution=grade_id in solutions
            )
            before = [present[g] for g in order[:place] if g in present]
            after = [present[g] for g in order[place + 1 :] if g in present]
            at = max(before) + 1 if before else min(after) if after else len(nb.cells)
            nb.cells.insert(at, cell)
        return nb, resources

    def _is_solution(self, grade_id) -> bool:
        try:
            self.gradebook.find_solution_cell(grade_id, self.notebook_id, self.assignment_id)
        except MissingEntry:
            return False
        return True

    def _as_handed_out(self, text: str, source_cell) -> bool:
        released = NotebookNode(source=source_cell.source or "")
        with contextlib.suppress(RuntimeError):  # unbalanced markers: compare with the source only
            self._hidden._remove_hidden_test_region(released)
        return text.strip() in {(source_cell.source or "").strip(), released.source.strip()}


class _NotebookCells:
    """An open gradebook whose answers about one notebook's cells (`find_notebook`,
    `find_source_cell`, `find_graded_cell`, `find_solution_cell`: the same objects, the same
    MissingEntry) come from one read of that notebook; anything else goes to the gradebook."""

    def __init__(self, gradebook: Gradebook, notebook_id: str, assignment_id: str):
        self._gradebook, self._key = gradebook, (notebook_id, assignment_id)
        try:
            self._notebook = gradebook.find_notebook(notebook_id, assignment_id)
        except MissingEntry:
            self._notebook, self._cells = None, {}
            return
        self._cells = {
            "source": {cell.name: cell for cell in self._notebook.source_cells},
            # nbgrader's find_graded_cell: a grade cell of that name, else a task cell
            "graded": {cell.name: cell for cell in [*self._notebook.task_cells, *self._notebook.grade_cells]},
            "solution": {cell.name: cell for cell in self._notebook.solution_cells},
        }

    def _find(self, kind: str, name: str, notebook_id: str, assignment_id: str):
        if (notebook_id, assignment_id) != self._key:
            return getattr(self._gradebook, f"find_{kind}_cell")(name, notebook_id, assignment_id)
        try:
            return self._cells[kind][name]
        except KeyError:
            raise MissingEntry(f"No such {kind} cell: {assignment_id}/{notebook_id}/{name}") from None

    def find_notebook(self, notebook_id: str, assignment_id: str):
        if (notebook_id, assignment_id) != self._key or self._notebook is None:
            return self._gradebook.find_notebook(notebook_id, assignment_id)
        return self._notebook

    def find_source_cell(self, name: str, notebook_id: str, assignment_id: str):
        return self._find("source", name, notebook_id, assignment_id)

    def find_graded_cell(self, name: str, notebook_id: str, assignment_id: str):
        return self._find("graded", name, notebook_id, assignment_id)

    def find_solution_cell(self, name: str, notebook_id: str, assignment_id: str):
        return self._find("solution", name, notebook_id, assignment_id)

    def __getattr__(self, name: str):
        return getattr(self._gradebook, name)


class _SchemaBuiltOnce(BaseMetadataValidator):
    def validate_cell(self, cell) -> None:  # nbgrader's BaseMetadataValidator.validate_cell, but
        if "nbgrader" not in cell.metadata:  # with the schema's validator built once
            return
        schema, expected = cell.metadata["nbgrader"].get("schema_version", 0), self.schema_version
        if schema < expected:
            message = f"Outdated schema version: {schema} (expected {expected})"
            raise SchemaTooOldError(message, schema, expected)
        if schema > expected:
            message = f"Schema version is too new: {schema} (expected {expected})"
            raise SchemaTooNewError(message, schema, expected)
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error


class _MetadataValidator(MetadataValidator, _SchemaBuiltOnce):
    """nbgrader's MetadataValidator (v3) whose per-cell schema check is `_SchemaBuiltOnce`'s."""

    def __init__(self) -> None:
        super().__init__()
        self._validator = jsonschema.validators.validator_for(self.schema)(self.schema)


@functools.cache
def _metadata_validator() -> _MetadataValidator:
    return _MetadataValidator()


class CheckCellMetadata(preprocessors.CheckCellMetadata):
    """nbgrader's `CheckCellMetadata` (grade ids unique, the nbgrader metadata valid by nbgrader's
    schema v3), the same checks with the schema's validator built once per process. Raises
    nbgrader's ValidationError as nbgrader's does."""

    def preprocess(self, nb, resources):
        try:
            _metadata_validator().validate_nb(nb)
        except ValidationError:
            self.log.exception("Notebook failed to validate")
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            raise ValidationError(message) from None
        return nb, resources
