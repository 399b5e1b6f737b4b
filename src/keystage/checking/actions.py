"""State changes of the school check loop. Each checks who may do it, runs in one transaction
with its audit row, and sends its e-mails only once the transaction has committed.

- `do_release`: an LA user releases checking reports to some or all of their schools;
- `do_remind`: an LA user reminds the schools that have not confirmed (or whose data changed
  after they confirmed);
- `do_confirm`: a school user confirms the released data is correct (name and job title);
- `do_send_query`: a school user asks the LA about some of its pupils;
- `do_reply`: an LA user answers a school's query thread.
A national admin reads everything but changes nothing here: that is the LA's and the school's.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from keystage.accounts.mail import la_recipients, school_recipients, send_after_commit, site_link
from keystage.accounts.models import Role
from keystage.accounts.scope import membership_of, schools_for
from keystage.audit.models import record
from keystage.checking.models import Confirmation, Message, Release
from keystage.engine import words
from keystage.engine.words import long_datetime
from keystage.orgs.models import School
from keystage.submissions.models import Collection, PupilRecord

LA_CHECKERS = (Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
MAX_BODY = 5000


def _membership(user, roles, what: str):
    membership = membership_of(user)
    if membership is None or membership.role not in roles:
        raise PermissionDenied(f"Your role cannot {what}")
    return membership


def _school_of_user(user, school: School, roles, what: str) -> None:
    _membership(user, roles, what)
    if not schools_for(user).filter(pk=school.pk).exists():
        raise PermissionDenied(f"You cannot {what} for {school.name}")


def current_release(collection: Collection, school: School) -> Release | None:
    return Release.objects.filter(collection=collection, school=school, is_current=True).first()


def schools_with_data(collection: Collection, schools) -> list[School]:
    """The schools among `schools` that have current pupil records."""
    with_pupils = PupilRecord.objects.filter(
        collection=collection, is_current=True, school__in=schools
    ).values("school_id")
    return list(schools.filter(pk__in=with_pupils).order_by("laestab"))


# -- actions ----------------------------------------------------------------------------------


@transaction.atomic
def do_release(
    user,
    collection: Collection,
    schools: Iterable[School] | None = None,
    *,
    note: str = "",
    chosen_by: str = "",
) -> list[Release]:
    """Release checking reports to `schools`, or (None) to every school of the user's LA that
    the user works on and that has sent data. A school's earlier release is superseded. Each
    school's audit row says how many were released together and, in `chosen_by`, how the user
    chose them (the schools' checks page's filter)."""
    membership = _membership(user, LA_CHECKERS, "release checking reports")
    mine = schools_for(user).filter(la_id=membership.la_id)
    if schools is None:
        targets = schools_with_data(collection, mine)
    else:
        targets = list(schools)
        allowed = set(mine.filter(pk__in=[s.pk for s in targets]).values_list("pk", flat=True))
        refused = [s.name for s in targets if s.pk not in allowed]
        if refused:
            raise PermissionDenied(f"You cannot release reports to {', '.join(refused)}")
    note = note.strip()[:MAX_BODY]
    # Two releases to one school at once queue here instead of both making a current one.
    list(School.objects.select_for_update().filter(pk__in=[s.pk for s in targets]))
    now = timezone.now()
    released = []
    for school in targets:
        Release.objects.filter(collection=collection, school=school, is_current=True).update(
            is_current=False
        )
        release = Release.objects.create(
            collection=collection, la_id=school.la_id, school=school, released_by=user,
            released_at=now, note=note,
        )  # fmt: skip
        record("checking.released", user=user, la=school.la_id, school=school, obj=release,
               collection=collection.code, note=note, schools_released_together=len(targets),
               chosen_by=chosen_by[:200])  # fmt: skip
        link = site_link("school-check", collection=collection.code, laestab=school.laestab)
        send_after_commit(
            f"Check your {collection.name} data: {school.name}",
            f"{school.la.name} has released the checking reports for {school.name} "
            f"({school.laestab}).\n\n"
            + (f"Message from the local authority:\n{note}\n\n" if note else "")
            + "Please check the pupil list and summary, then either confirm the data is "
            f"correct or send a query about the pupils that are wrong:\n{link}\n",
            school_recipients(school),
        )
        released.append(release)
    return released


def _la_page(collection: Collection, school: School) -> str:
    """The address of the LA's page of the school's check, for an e-mail (in the collection's
    own path, also when sent outside a request, e.g. by a command)."""
    return site_link(
        "la-checking-school", collection=collection.code, code=school.la.code,
        laestab=school.laestab,
    )  # fmt: skip


# States in which the school owes the LA a check: reports released and neither confirmed nor
# queried, or confirmed before the data changed. (With an open query the LA owes an answer.)
REMINDABLE = ("released", "changed")


def schools_to_remind(user, collection: Collection) -> list[School]:
    """The schools of the user's LA, within the user's scope, that a reminder would go to."""
    from keystage.checking.queries import check_statuses

    membership = membership_of(user)
    if membership is None or membership.la_id is None:
        return []
    mine = list(schools_for(user).filter(la_id=membership.la_id).order_by("laestab"))
    statuses = check_statuses(user, collection, mine)
    return [s for s in mine if statuses[s.pk].state in REMINDABLE]


@transaction.atomic
def do_remind(user, collection: Collection, *, note: str = "") -> list[School]:
    """E-mail the users of every school that has not confirmed its released data (or whose data
    changed after it confirmed), and record the reminder on the school's release."""
    from keystage.checking.queries import check_statuses, when

    _membership(user, LA_CHECKERS, "remind schools")
    targets = schools_to_remind(user, collection)
    statuses = check_statuses(user, collection, targets)
    note = note.strip()[:MAX_BODY]
    now = timezone.now()
    for school in targets:
        status = statuses[school.pk]
        release = status.release
        Release.objects.filter(pk=release.pk).update(
            reminded_at=now, reminders=release.reminders + 1
        )
        record("checking.reminded", user=user, la=school.la_id, school=school, obj=release,
               collection=collection.code, state=status.state.value, note=note)  # fmt: skip
        if status.state == "changed":
            c = status.confirmation
            why = (
                f"{c.name} ({c.job_title}) confirmed the data on {when(c.confirmed_at)}, and it "
                "has changed since. Please check it again and confirm it, or send a query about "
                "the pupils that are wrong"
            )
        else:
            why = (
                f"{school.la.name} released the checking reports on {when(release.released_at)} "
                "and has not yet had your confirmation. Please check the pupil list and summary, "
                "then confirm the data is correct or send a query about the pupils that are wrong"
            )
        send_after_commit(
            f"Reminder: check your {collection.name} data: {school.name}",
            f"{why}:\n{site_link('school-check', collection=collection.code, laestab=school.laestab)}\n"
            + (f"\nMessage from the local authority:\n{note}\n" if note else ""),
            school_recipients(school),
        )
    return targets


@transaction.atomic
def do_confirm(user, collection: Collection, school: School, *, name: str,
               job_title: str) -> Confirmation:  # fmt: skip
    """The school confirms its released data is correct."""
    _school_of_user(user, school, (Role.SCHOOL_USER,), "confirm the data")
    name, job_title = name.strip(), job_title.strip()
    if not name or not job_title:
        raise ValidationError("Enter the name and job title of the person confirming")
    release = current_release(collection, school)
    if release is None:
        raise ValidationError(f"The checking reports for {school.name} have not been released yet")
    confirmation = Confirmation.objects.create(
        collection=collection, la_id=school.la_id, school=school, release=release,
        confirmed_by=user, name=name[:200], job_title=job_title[:200],
        confirmed_at=timezone.now(),
    )  # fmt: skip
    record("checking.confirmed", user=user, la=school.la_id, school=school, obj=confirmation,
           collection=collection.code, release=release.pk, name=name, job_title=job_title)  # fmt: skip
    send_after_commit(
        f"{school.name} has confirmed its {collection.name} data",
        f"{name} ({job_title}) confirmed that the data of {school.name} ({school.laestab}) "
        f"is correct on {long_datetime(timezone.localtime(confirmation.confirmed_at))}.\n\n"
        f"{_la_page(collection, school)}\n",
        la_recipients(school),
    )
    return confirmation


def _clean_upns(collection: Collection, school: School, upns: Iterable[str]) -> list[str]:
    wanted = sorted({u.strip().upper() for u in upns if u and u.strip()})
    known = set(
        PupilRecord.objects.filter(
            collection=collection, school=school, is_current=True, upn__in=wanted
        ).values_list("upn", flat=True)
    )
    unknown = [u for u in wanted if u not in known]
    if unknown:
        raise ValidationError(
            f"{', '.join(unknown)} {'is not a pupil' if len(unknown) == 1 else 'are not pupils'}"
            f" in the current data of {school.name}"
        )
    return wanted


def _post(user, collection, school, body: str, upns, *, from_school: bool) -> Message:
    """One message of a school's thread, naming pupils of the school's current data, with its
    audit row."""
    pupils = _clean_upns(collection, school, upns)
    message = Message.objects.create(
        collection=collection, la_id=school.la_id, school=school, author=user,
        author_name=user.get_username(), from_school=from_school, body=body, upns=pupils,
        sent_at=timezone.now(),
    )  # fmt: skip
    action = "checking.query_sent" if from_school else "checking.query_answered"
    record(action, user=user, la=school.la_id, school=school, obj=message,
           collection=collection.code, upns=pupils)  # fmt: skip
    return message


@transaction.atomic
def do_send_query(user, collection: Collection, school: School, *, body: str,
                  upns: Iterable[str] = ()) -> Message:  # fmt: skip
    """The school asks its LA about its data, naming the pupils concerned."""
    _school_of_user(user, school, (Role.SCHOOL_USER,), "send a query")
    body = body.strip()
    if not body:
        raise ValidationError("Enter your query: what is wrong and what it should be")
    if len(body) > MAX_BODY:
        raise ValidationError(f"Your query must be {MAX_BODY} characters or fewer")
    if current_release(collection, school) is None:
        raise ValidationError(f"The checking reports for {school.name} have not been released yet")
    message = _post(user, collection, school, body, upns, from_school=True)
    pupils = message.upns
    send_after_commit(
        f"Query from {school.name} about its {collection.name} data",
        f"{school.name} ({school.laestab}) sent a query"
        + (f" about {words.plural(len(pupils), 'pupil')} ({', '.join(pupils)})" if pupils else "")
        + f":\n\n{body}\n\nAnswer it here:\n"
        f"{_la_page(collection, school)}\n",
        la_recipients(school),
    )
    return message


@transaction.atomic
def do_reply(user, collection: Collection, school: School, *, body: str,
             upns: Iterable[str] = ()) -> Message:  # fmt: skip
    """The LA answers the school's query thread."""
    _school_of_user(user, school, LA_CHECKERS, "answer queries")
    body = body.strip()
    if not body:
        raise ValidationError("Enter your answer to the school")
    if len(body) > MAX_BODY:
        raise ValidationError(f"Your answer must be {MAX_BODY} characters or fewer")
    message = _post(user, collection, school, body, upns, from_school=False)
    send_after_commit(
        f"{school.la.name} answered your query about {collection.name} data",
        f"{school.la.name} answered the query from {school.name}:\n\n{body}\n\n"
        f"{site_link('school-check', collection=collection.code, laestab=school.laestab)}\n",
        school_recipients(school),
    )
    return message
