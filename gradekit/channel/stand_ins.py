"""Stand-ins for the student's objects: every operation on one is a question to its session."""

from __future__ import annotations

from collections.abc import Callable


def _remote(name: str, *fixed: int) -> Callable:
    def method(self, *args):
        session = object.__getattribute__(self, "_s")
        values = list(args)
        order = [self, *values] if not fixed else [values[0], self]
        return session.op(name, *order)

    method.__name__ = f"__{name}__"
    return method


class Remote:
    """A stand-in for an object of the student's process (see the module docstring)."""

    __slots__ = ("__weakref__", "_c", "_n", "_s")

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name in _LOCAL_ONLY:
            raise AttributeError(name)
        return object.__getattribute__(self, "_s").getattr(self, name)

    def __setattr__(self, name, value):
        object.__getattribute__(self, "_s").setattr(self, name, value)

    def __delattr__(self, name):
        object.__getattribute__(self, "_s").ask(
            "delattr", obj=object.__getattribute__(self, "_s").value(self), name=name
        )

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_s").call(self, args, kwargs)

    def __repr__(self):
        text = object.__getattribute__(self, "_s").op("repr", self)
        if not isinstance(text, str):
            raise TypeError("__repr__ returned non-string")
        return text

    def __str__(self):
        text = object.__getattribute__(self, "_s").op("str", self)
        if not isinstance(text, str):
            raise TypeError("__str__ returned non-string")
        return text

    def __format__(self, spec):
        return object.__getattribute__(self, "_s").op("format", self, spec)

    def __hash__(self):
        found = object.__getattribute__(self, "_s").op("hash", self)
        if type(found) is not int:
            raise TypeError("__hash__ method should return an integer")
        return found

    def __bool__(self):
        return object.__getattribute__(self, "_s").op("truth", self) is True

    def __len__(self):
        found = object.__getattribute__(self, "_s").op("len", self)
        if type(found) is not int:
            raise TypeError("an integer is required")
        return found

    def __iter__(self):
        return object.__getattribute__(self, "_s").iterate(self)

    def __contains__(self, item):
        return object.__getattribute__(self, "_s").op("contains", self, item) is True

    def __getitem__(self, key):
        return object.__getattribute__(self, "_s").op("getitem", self, key)

    def __setitem__(self, key, value):
        object.__getattribute__(self, "_s").op("setitem", self, key, value)

    def __delitem__(self, key):
        object.__getattribute__(self, "_s").op("delitem", self, key)

    def __float__(self):
        found = object.__getattribute__(self, "_s").op("float", self)
        if type(found) is not float:
            raise TypeError("__float__ returned non-float")
        return found

    def __int__(self):
        found = object.__getattribute__(self, "_s").op("int", self)
        if type(found) is not int:
            raise TypeError("__int__ returned non-int")
        return found

    def __index__(self):
        found = object.__getattribute__(self, "_s").op("index", self)
        if type(found) is not int:
            raise TypeError("__index__ returned non-int")
        return found

    def __round__(self, *args):
        return object.__getattribute__(self, "_s").op("round", self, *args)

    def __dir__(self):
        return object.__getattribute__(self, "_s").op("dir", self)

    def __enter__(self):
        return object.__getattribute__(self, "_s").method(self, "__enter__", (), {})

    def __exit__(self, *exc):
        return object.__getattribute__(self, "_s").method(self, "__exit__", (None, None, None), {})


_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul")
_BINARY += ("and", "or", "xor", "lshift", "rshift")
for _name in _BINARY:
    _op = _name + "_" if _name in ("and", "or") else _name
    setattr(Remote, f"__{_name}__", _remote(_op))
    setattr(Remote, f"__r{_name}__", _remote(_op, 1))
    setattr(Remote, f"__i{_name}__", _remote("i" + _op))
for _name in ("neg", "pos", "abs", "invert", "lt", "le", "eq", "ne", "gt", "ge"):
    setattr(Remote, f"__{_name}__", _remote(_name))
Remote.__hash__ = Remote.__dict__["__hash__"]  # (defining __eq__ would have set it to None)
_LOCAL_ONLY = {
    "__getstate__", "__reduce__", "__reduce_ex__", "__copy__", "__deepcopy__", "__length_hint__",
    "__array__", "__array_interface__", "__array_struct__", "__fspath__", "__await__",
    "__aiter__", "__anext__", "__aenter__", "__aexit__", "__class_getitem__", "__mro_entries__",
    "__set_name__", "__init_subclass__", "__get__", "__set__", "__delete__", "__objclass__",
    "__wrapped__", "__signature__", "__text_signature__", "__func__", "__self__", "__code__",
    "__origin__", "__annotations__", "__slots__",
}  # fmt: skip


class RemoteClass(Remote):
    """A stand-in for a class of the student's process: `isinstance(x, Value)` asks, or reads the
    class's MRO when Python's own rules apply."""

    __slots__ = ()

    def __instancecheck__(self, instance):
        return object.__getattribute__(self, "_s").isinstance(instance, self)

    def __subclasscheck__(self, subclass):
        return bool(object.__getattribute__(self, "_s").op("issubclass", subclass, self))


class RemoteMethod:
    """`obj.name` where `name` is a method of obj's class: calling it is one question."""

    __slots__ = ("name", "obj")

    def __init__(self, obj: Remote, name: str):
        self.obj, self.name = obj, name

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self.obj, "_s").method(self.obj, self.name, args, kwargs)

    def resolve(self):
        session = object.__getattribute__(self.obj, "_s")
        return session.ask("getattr", obj=session.value(self.obj), name=self.name)

    def __getattr__(self, name):
        return getattr(self.resolve(), name)

    def __repr__(self):
        return repr(self.resolve())
