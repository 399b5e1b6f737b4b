"""Each collection's own rules, measures and lists, one package per collection (`ks1/`, ...).

Shared code never names a collection's items, codes or rule ids: it asks here for the package
of the definition it works with. A package declares `COLLECTION`, the collection code its
definitions carry (`[collection] collection`), and has a `rules` module with its `BOOK` (see
`engine/rulebook.py`) and a `measures` module whose functions have the same signatures in every
package (docs/measures.md, "One entry point"). Adding a collection is adding a package: nothing
here lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from keystage.engine.definition import Definition


@cache
def packages() -> dict[str, ModuleType]:
    """Collection code -> its package, for every package in this folder."""
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        package = importlib.import_module(f"{__name__}.{info.name}")
        code = getattr(package, "COLLECTION", None)
        if not code:
            raise ValueError(f"{package.__name__} does not say which COLLECTION it is for")
        if code in found:
            raise ValueError(
                f"{package.__name__} and {found[code].__name__} are both for collection {code}"
            )
        found[code] = package
    return found


def for_definition(definition: Definition) -> ModuleType:
    """The package of the collection a definition is for."""
    found = packages().get(definition.collection)
    if found is None:
        where = definition.source or definition.id
        raise KeyError(
            f"collection definition {definition.id} ({where}) is for collection "
            f"{definition.collection!r}, which has no package in keystage/engine/collections/ "
            f"(known: {', '.join(sorted(packages())) or 'none'}): add one with its rules"
        )
    return found


def module_of(definition: Definition, name: str) -> ModuleType:
    """One module of a definition's collection package, e.g. its `rules`."""
    return importlib.import_module(f"{for_definition(definition).__name__}.{name}")


def rule_modules() -> list[ModuleType]:
    """Every collection's `rules` module (each registers its rules in its `BOOK`)."""
    return [importlib.import_module(f"{p.__name__}.rules") for p in packages().values()]
