"""Grades out of the gradebook.

- `grades`: per-exercise scores and late penalties, and an nbgrader export plugin for them;
- `lms_export`: Canvas's and Moodle's gradebook import files;
- `report`: the HTML grade report.
"""
