"""The EYFS profile's own rules (spec eyfsp.md §3): every goal judged, each judgement one of the
definition's (`1`, `2`, `A`), `A` in any goal meaning `A` in all, a goal given twice, and a
school whose children all have the same judgement in every goal. The goals and codes are the
definition's (`[[subjects]]`, `[codes]`); the identity, header, establishment (with a
setting's URN) and cross-school rules every collection needs are in `engine/rules/`, and
`BOOK` takes them under the EYF prefix."""

from __future__ import annotations

from keystage.engine.records import PupilRecord
from keystage.engine.rulebook import Hit, RuleBook, RuleContext, SchoolOf
from keystage.engine.words import either, plural


class ProfileContext:
    """What the profile's rules look up, worked out once per definition (`ctx.own`)."""

    def __init__(self, ctx: RuleContext):
        d = ctx.definition
        self.goals = d.subject_keys
        codes = {name: frozenset(c.upper() for c in cs) for name, cs in d.codes.items()}
        self.not_assessed = codes.get("not_assessed", frozenset())
        # Judgements as a school writes them, for messages: "1 (emerging), 2 (expected) or A".
        meaning = {"emerging": "emerging", "expected": "expected", "not_assessed": "not assessed"}
        said = {
            c: f"{c} ({meaning[name]})" for name in meaning for c in sorted(d.codes.get(name, ()))
        }
        first = d.subjects[0].valid if d.subjects else ()
        self.judgements = either([said.get(c, c) for c in first])
        self.numbers = {s.key: f"ELG {s.return_component[-2:]}" for s in d.subjects}
        self.labels = {s.key: s.label for s in d.subjects}

    def name(self, goal: str) -> str:
        """ "ELG 09 Word reading", as the profile's handbook names a goal."""
        return f"{self.numbers.get(goal, goal)} {self.labels.get(goal, '')}".strip()


BOOK = RuleBook("EYF", context=ProfileContext)
pupil_rule = BOOK.pupil_rule
cohort_rule = BOOK.cohort_rule


def _listed(names: list[str], limit: int = 4) -> str:
    if len(names) <= limit:
        return either(names).replace(" or ", " and ")
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


@pupil_rule("R01", "error", field="elg01", title="A goal with no judgement",
            spec_status="UNCERTAIN", reads=("outcomes", "wrong_parameters"))  # fmt: skip
def goal_missing(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    own = ctx.own
    missing = [g for g in own.goals if not (pupil.outcomes.get(g) or "").strip()]
    if not missing:
        return []
    enter = f"enter {own.judgements} for each goal"
    if len(missing) == len(own.goals):
        if pupil.wrong_parameters:
            found = sorted(set(pupil.wrong_parameters.values()))
            d = ctx.definition
            return [Hit(missing[0], "", (
                f"No judgement for {d.year}: the profile was sent for {', '.join(found)}; ask "
                f"the school to export the {d.year} EYFS profile again, or {enter}."
            ))]  # fmt: skip
        return [Hit(missing[0], "", f"No judgement for any of the {len(own.goals)} early "
                                    f"learning goals: {enter}.")]  # fmt: skip
    names = [own.name(g) for g in missing]
    message = (
        f"No judgement for {plural(len(missing), 'goal')} ({_listed(names)}): every goal must "
        f"be judged; {enter} (A in every goal if the child was not assessed)."
    )
    return [Hit(g, "", message) for g in missing]


@pupil_rule("R02", "error", field="elg01", title="Judgement not valid",
            spec_status="UNCERTAIN", reads=("outcomes",))  # fmt: skip
def judgement_invalid(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    own, hits = ctx.own, []
    for goal in own.goals:
        raw = (pupil.outcomes.get(goal) or "").strip()
        if raw and ctx.code(raw) not in ctx.valid[goal]:
            hits.append(Hit(goal, raw, (
                f"{own.name(goal)}: '{raw}' is not a judgement of the profile: enter "
                f"{own.judgements}."
            )))  # fmt: skip
    return hits


@pupil_rule("R03", "error", field="elg01", title="Not assessed in some goals but not all",
            spec_status="CONFIRMED", reads=("outcomes",))  # fmt: skip
def partly_not_assessed(pupil: PupilRecord, ctx: RuleContext) -> Hit | None:
    own = ctx.own
    codes = {g: ctx.code(pupil.outcomes.get(g)) for g in own.goals}
    absent = [g for g, c in codes.items() if c in own.not_assessed]
    if not absent or len(absent) == len(own.goals):
        return None
    others = [own.name(g) for g in own.goals if g not in absent]
    code = codes[absent[0]]
    return Hit(absent[0], code, (
        f"{code} (not assessed) is given for {plural(len(absent), 'goal')} but not for "
        f"{_listed(others)}: a child who was not assessed has {code} in every goal. Enter "
        f"{code} in all {len(own.goals)} goals, or the child's judgement in place of each {code}."
    ))  # fmt: skip


@pupil_rule("R05", "error", field="elg01", title="A goal judged more than once",
            spec_status="UNCERTAIN", reads=("outcomes", "duplicate_outcomes"),
            file_only="the return carries only the judgement that was used")  # fmt: skip
def judged_twice(pupil: PupilRecord, ctx: RuleContext) -> list[Hit]:
    own, hits = ctx.own, []
    for goal, seen in pupil.duplicate_outcomes.items():
        kept = pupil.outcomes.get(goal, "")
        hits.append(Hit(goal, kept, (
            f"{own.name(goal)} was given {len(seen)} times ({', '.join(seen)}; '{kept}' was "
            "used): check which judgement is right and ask the school to send only that one."
        )))  # fmt: skip
    return hits


# -- across a school: every child the same in every goal (EYF-R04) -------------------------------
# A finding about a school as a whole (`SchoolOf`), from its current records: at least
# `min_pupils` children judged in every goal (none not assessed), every one of them with the
# same judgement in all goals (a likely export or data entry mistake: one value for everyone).


def _school_name(entry) -> str:
    name = entry.school.strip()
    return f"{name} ({entry.laestab})" if name else entry.laestab


@cohort_rule("R04", "query", field="elg01", title="Every child the same in every goal",
             spec_status="UNCERTAIN", reads=("outcomes",))  # fmt: skip
def all_alike(entries, ctx: RuleContext) -> list[Hit]:
    own = ctx.own
    min_pupils = int(ctx.setting(ctx.book.id_of("R04"), "min_pupils", 5))
    # school -> (an entry naming it, the judgements seen, children judged in every goal)
    schools: dict[str, list] = {}
    for entry in entries:
        if entry.outcomes is None:
            continue
        codes = {ctx.code(entry.outcomes.get(g)) for g in own.goals}
        found = schools.setdefault(entry.laestab, [entry, set(), 0])
        if (
            "" in codes
            or codes & own.not_assessed
            or any(ctx.code(entry.outcomes.get(g)) not in ctx.valid[g] for g in own.goals)
        ):
            continue
        found[1].update(codes)
        found[2] += 1
    hits = []
    for laestab, (entry, seen, judged) in schools.items():
        if judged < min_pupils or len(seen) != 1:
            continue
        (code,) = seen
        hits.append(Hit(own.goals[0], code, (
            f"All {judged} children judged at {_school_name(entry)} have {code} in every one of "
            f"the {len(own.goals)} goals: check that each child's own judgements were exported "
            "(one value for everyone is a likely export mistake) and send the file again if "
            "not; if the judgements are right, confirm them."
        ), key=SchoolOf(laestab)))  # fmt: skip
    return hits
