"""Let a module be called like its main function: ``scaling.plan(1e21)``, ``scaling.fit(runs)``.

``scaling.plan`` is both a submodule and the public function. Once the submodule is imported,
Python binds the package attribute to the module, so ``scaling.plan(...)`` would fail. Giving
the module a class with ``__call__`` makes both spellings work whatever the import order.
"""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, func_name: str) -> None:
    module = sys.modules[module_name]

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(self, func_name)(*args, **kwargs)

    module.__class__ = CallableModule
