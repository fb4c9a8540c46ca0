"""Names a package hands on, imported only when first used (PEP 562).

`import siamese_kit` and `siamese-kit --help` should not wait for TensorFlow, Keras, plotting or
widgets; each name is looked up in its module the first time someone asks for it.
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str]):
    """`__getattr__` and `__dir__` for a package whose names live in its submodules.

    Args:
        package: the package's `__name__`.
        exports: public name -> the relative module that defines it (for example `".layers"`).

    Returns:
        `(__getattr__, __dir__)`, to assign at the package's top level.
    """

    def __getattr__(name: str):
        try:
            module_name = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module_name, package), name)
        setattr(importlib.import_module(package), name, value)  # the next look-up is a plain attribute
        return value

    def __dir__():
        return sorted(set(vars(importlib.import_module(package))) | set(exports))

    return __getattr__, __dir__
