"""The course kit's own code: what nbgrader lacks for the mini_auto_grad course.

- `reference`: the reference solution, executed from the source notebook itself.
- `feedback`: a feedback preprocessor that keeps hidden tests out of what students read.
"""
