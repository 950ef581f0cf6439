"""The globals of a test cell's code in the grader: its own names, then the student's."""

from __future__ import annotations

import builtins
import random as _random
import types

from gradekit.channel.session import Session


class Namespace(dict):
    """The globals of a test cell's code in the grader: its own definitions, then the student's
    globals (asked for once per check, kept as stand-ins), then the grader's builtins."""

    def __init__(self, session: Session, given: dict):
        super().__init__(given)
        self.session = session
        self.resolved: set[str] = set()  # the student's names asked for in the current check
        self.in_check = False
        builtin = dict(vars(builtins))
        mirror = mirrored_random(session)
        real_import = builtins.__import__

        def grader_import(name, globals=None, locals=None, fromlist=(), level=0):
            if name == "random" and level == 0:
                return mirror
            return real_import(name, globals, locals, fromlist, level)

        builtin["__import__"] = grader_import
        self["__builtins__"] = builtin
        self.builtin = builtin

    def __missing__(self, name):
        if name in self.builtin:
            raise KeyError(name)
        try:
            found = self.session.global_(name)
        except NameError:
            raise KeyError(name) from None
        self[name] = found
        if self.in_check:
            self.resolved.add(name)
        return found

    def end_check(self) -> None:
        """Drop the student's names asked for during a check (they are asked again in the next)."""
        for name in self.resolved:
            self.pop(name, None)
        self.resolved.clear()
        self.in_check = False


def mirrored_random(session: Session) -> types.ModuleType:
    """A stand-in for the module `random` in a test cell: its functions draw from a generator of
    the grader's, and `seed` seeds that generator and the student's `random` alike."""
    mirror = types.ModuleType("random")
    generator = session.random
    for name in dir(_random):
        if not name.startswith("_"):
            found = getattr(_random, name)
            bound = getattr(generator, name, None)
            setattr(mirror, name, bound if callable(bound) and not isinstance(found, type) else found)

    def seed(a=None, version=2):
        generator.seed(a, version)
        session.seed(a)

    mirror.seed = seed
    return mirror
