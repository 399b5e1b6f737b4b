"""E-mails to the people of a school or an LA: who gets them, and sending them only once the
transaction that caused them has committed (the console backend in the demo)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Q

from keystage.accounts.models import Role
from keystage.orgs.models import School
from keystage.web.links import reverse

log = logging.getLogger(__name__)


def site_link(name: str, **kwargs) -> str:
    """The full address of a page, for an e-mail."""
    return settings.KEYSTAGE_SITE_URL + reverse(name, kwargs=kwargs)


def school_recipients(school: School) -> list[str]:
    """E-mail addresses of the school's active users."""
    return sorted(
        set(
            get_user_model()
            .objects.filter(
                is_active=True,
                membership__role=Role.SCHOOL_USER,
                membership__school=school,
            )
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def la_recipients(school: School) -> list[str]:
    """E-mail addresses of the LA admins and officers of the school's LA, and of restricted
    officers who work on this school."""
    return sorted(
        set(
            get_user_model()
            .objects.filter(is_active=True, membership__la_id=school.la_id)
            .filter(
                Q(membership__role__in=(Role.LA_ADMIN, Role.LA_OFFICER))
                | Q(membership__role=Role.LA_RESTRICTED, membership__schools=school)
            )
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def send_after_commit(subject: str, body: str, recipients: list[str]) -> None:
    """One message to each recipient, after the commit. A mail server that fails does not undo
    what was done: it is logged for the operator."""
    if not recipients:
        return
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients]

    def send() -> None:
        try:
            send_mass_mail(messages, fail_silently=False)
        except Exception:  # any mail failure is logged, never shown as a 500
            log.exception("could not send %r to %d recipients", subject, len(recipients))

    transaction.on_commit(send)
