"""Disclosure control: which report figures a viewer may see. A figure of the viewer's own school
or LA is always shown; any other figure is suppressed ("c", as in DfE's files) when it rests on
fewer than `threshold()` pupils, or when taking the viewer's own known pupils out of it would
leave fewer than the threshold, or the pupils of just one other school or LA. The rule is set out
in docs/measures.md ("Disclosure control")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from keystage.accounts.models import Role
from keystage.accounts.scope import membership_of

SUPPRESSED = "c"  # DfE's symbol for a confidential figure
DEFAULT_THRESHOLD = 6


def threshold() -> int:
    """The fewest pupils a figure shown outside its school or LA may rest on
    (`KEYSTAGE_REPORT_MIN_PUPILS`, default 6)."""
    return int(getattr(settings, "KEYSTAGE_REPORT_MIN_PUPILS", DEFAULT_THRESHOLD))


@dataclass(frozen=True)
class Viewer:
    """Whose figures are the viewer's own. `everything`: a national admin (or the CLI), for
    whom nothing is suppressed. `public`: figures for publication, where nobody owns anything."""

    everything: bool = False
    la_ids: frozenset[int] = field(default_factory=frozenset)
    school_ids: frozenset[int] = field(default_factory=frozenset)

    def owns(self, level: str, la_id: int | None, school_id: int | None) -> bool:
        if self.everything:
            return True
        if level == "school":
            return school_id in self.school_ids or la_id in self.la_ids
        if level == "la":
            return la_id in self.la_ids
        return False


EVERYTHING = Viewer(everything=True)
PUBLIC = Viewer()


def viewer_for(user) -> Viewer:
    """The viewer a signed-in user is: a national admin owns everything, an LA admin or officer
    their LA (and its schools), a restricted officer their assigned schools, a school user their
    school. Anyone else owns nothing."""
    from keystage.accounts.scope import schools_for

    membership = membership_of(user)
    if membership is None:
        return PUBLIC
    if membership.role == Role.NATIONAL_ADMIN:
        return EVERYTHING
    if membership.role in (Role.LA_ADMIN, Role.LA_OFFICER):
        return Viewer(la_ids=frozenset([membership.la_id]))
    if membership.role in (Role.LA_RESTRICTED, Role.SCHOOL_USER):
        return Viewer(school_ids=frozenset(schools_for(user).values_list("pk", flat=True)))
    return PUBLIC


def hidden(
    pupils: int, own: int = 0, others: int = 2, *, owned: bool = False, limit: int | None = None
) -> bool:
    """Whether a figure resting on `pupils` pupils must be suppressed for a viewer who knows
    `own` of them (their own school's or LA's), when the rest come from `others` schools or LAs.
    A figure of the viewer's own area (`owned`) is never suppressed; a figure made only of the
    viewer's own pupils reveals nothing new."""
    if owned:
        return False
    limit = threshold() if limit is None else limit
    if pupils < limit:
        return True
    rest = pupils - own
    if rest == 0:
        return False
    return rest < limit or others < 2


def protect_siblings(cells: Iterable[tuple[object, int, bool]]) -> set[object]:
    """Secondary suppression: given (key, pupils, suppressed) for groups that add up (nearly) to
    a shown total (girls and boys of "all pupils"), return the keys to suppress as well, so that
    no single suppressed group can be worked out by taking the others from the total: when
    exactly one group is suppressed, the smallest other group goes too."""
    cells = list(cells)
    suppressed = [c for c in cells if c[2]]
    shown = sorted((c for c in cells if not c[2]), key=lambda c: c[1])
    if len(suppressed) == 1 and shown:
        return {shown[0][0]}
    return set()
