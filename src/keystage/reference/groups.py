"""What the codes of pupil groups mean (`pupil_groups.toml`): each group's label in words, the
order the pages list groups in, the codes counted as another (DfE's extended ethnicity codes as
their main code) and the groups worked out from another's (the ethnic major groups). Shared by
every collection; a fact's group is "<dimension>:<code>" ("sex:F", "ethnicity:WBRI")."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Dimension:
    """One way of grouping pupils (sex, first language, ethnicity...)."""

    key: str
    label: str
    codes: dict[str, str]  # code -> what it means, in the order shown
    same_as: dict[str, str] = field(default_factory=dict)
    otherwise: str | None = None
    when_missing: str | None = None  # the code of a pupil whose file gives others, not this
    source: str | None = None  # the dimension this one is worked out from
    by: dict[str, str] = field(default_factory=dict)  # the source's code -> this one's

    def main_code(self, value: str) -> str:
        """The code a file's value is counted as."""
        if value in self.codes:
            return value
        if value in self.same_as:
            return self.same_as[value]
        return self.otherwise or value


@dataclass(frozen=True)
class PupilGroups:
    dimensions: dict[str, Dimension]  # in the pages' order

    def groups_for(self, key: str, value: str) -> list[str]:
        """The groups a pupil whose characteristic `key` is `value` (as the file gave it,
        stripped and upper-cased) is counted in: its main code's group, then the group of each
        dimension worked out from it."""
        dimension = self.dimensions.get(key)
        if dimension is None:
            return [f"{key}:{value}"]
        code = dimension.main_code(value)
        out = [f"{key}:{code}"]
        for other in self.dimensions.values():
            if other.source == key and code in other.by:
                out.append(f"{other.key}:{other.by[code]}")
        return out

    def when_missing(self, key: str) -> list[str]:
        """The groups of a pupil whose file leaves out characteristic `key` but gives another
        (none unless the reference data says what that means)."""
        dimension = self.dimensions.get(key)
        if dimension is None or dimension.when_missing is None:
            return []
        return self.groups_for(key, dimension.when_missing)

    def derived(self) -> list[Dimension]:
        """The dimensions worked out from another's codes."""
        return [d for d in self.dimensions.values() if d.source]

    def label(self, group: str) -> str:
        """A group in words: "Girls", "White British"; "<dimension>: <code>" for a code the
        reference data does not know."""
        key, _, code = group.partition(":")
        dimension = self.dimensions.get(key)
        if dimension is None:
            return f"{key}: {code}" if code else key
        if code in dimension.codes:
            return dimension.codes[code]
        return f"{dimension.label}: {code}"

    def dimension_label(self, key: str) -> str:
        dimension = self.dimensions.get(key)
        return dimension.label if dimension else key

    def sort_key(self, group: str) -> tuple:
        """Groups in the pages' order: by dimension, then by code as listed, then by code."""
        key, _, code = group.partition(":")
        keys = list(self.dimensions)
        rank = keys.index(key) if key in keys else len(keys)
        codes = list(self.dimensions[key].codes) if key in self.dimensions else []
        return (rank, codes.index(code) if code in codes else len(codes), group)


def _dimension(key: str, raw: dict) -> Dimension:
    return Dimension(
        key=key,
        label=raw["label"],
        codes=dict(raw.get("codes", {})),
        same_as=dict(raw.get("same_as", {})),
        otherwise=raw.get("otherwise"),
        when_missing=raw.get("when_missing"),
        source=raw.get("from"),
        by=dict(raw.get("by", {})),
    )


@cache
def pupil_groups() -> PupilGroups:
    """The shipped `pupil_groups.toml`, read once per process."""
    text = (resources.files("keystage.reference") / "pupil_groups.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    found = {key: _dimension(key, d) for key, d in raw["dimensions"].items()}
    order = [k for k in raw.get("order", []) if k in found]
    order += [k for k in found if k not in order]
    return PupilGroups({k: found[k] for k in order})
