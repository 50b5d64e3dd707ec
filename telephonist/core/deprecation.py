"""Old public names that keep working, with a ``DeprecationWarning`` saying the new one.

A module that renamed or moved a public name sets
``__getattr__ = deprecated_names(__name__, {"Old": ("new.place.New", lambda: New)})``:
Python calls a module's ``__getattr__`` only for names it does not define, so the
current names cost nothing and only code still typing an old one is warned, once per
import site (the warning points at the importing line). The value is fetched lazily,
so an old name may point into a module that imports this one. Type checkers do not
see ``__getattr__``: modules declare the old names under ``TYPE_CHECKING`` too.

A module has one ``__getattr__``, so current names that must also be fetched lazily (a
class that needs an optional extra) are given here as well, as ``lazy``: served
without a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

__all__ = ["deprecated_names"]


def deprecated_names(
    module: str,
    names: Mapping[str, tuple[str, Callable[[], object]]],
    lazy: Mapping[str, Callable[[], object]] | None = None,
) -> Callable[[str], object]:
    """A module ``__getattr__`` serving each old name as ``(replacement, getter)``, and
    each ``lazy`` name from its getter."""

    def __getattr__(name: str) -> object:
        if lazy is not None and name in lazy:
            return lazy[name]()
        try:
            replacement, get = names[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        warnings.warn(
            f"{module}.{name} is deprecated: use {replacement}", DeprecationWarning, stacklevel=2
        )
        return get()

    return __getattr__
