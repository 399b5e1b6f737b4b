"""How long someone must wait after too many wrong passwords (django-axes) or wrong two-factor
codes (django-otp), read from those libraries' own records, so the page says the real time
left rather than a fixed text."""

from __future__ import annotations

import datetime as dt
import math

from django.utils import timezone

from keystage.engine.words import plural


def in_words(left: dt.timedelta) -> str:
    """ "1 second", "40 seconds", "1 minute", "15 minutes": rounded up, so that waiting that
    long is always enough."""
    seconds = max(1, math.ceil(left.total_seconds()))
    if seconds < 60:
        return plural(seconds, "second")
    return plural(math.ceil(seconds / 60), "minute")


def sign_in_lock_ends(request, credentials) -> dt.datetime | None:
    """When django-axes will let this user name try a password again: it counts the failures
    newer than the cool-off, so the lock ends when the newest failures no longer reach the
    limit. None when the lock does not end by itself (no cool-off) or nothing is found."""
    from axes.handlers.database import AxesDatabaseHandler
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    if cool_off is None or getattr(request, "axes_attempt_time", None) is None:
        return None
    limit = get_failure_limit(request, credentials)
    ends = []
    for attempts in AxesDatabaseHandler().get_user_attempts(request, credentials):
        failures = 0
        for at, count in attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        ):
            failures += count
            if failures >= limit:
                ends.append(at + cool_off)
                break
    return max(ends) if ends else None


def code_wait(device) -> dt.timedelta | None:
    """How long until django-otp lets this device check a code again, or None if it may now."""
    allowed, data = device.verify_is_allowed()
    if allowed or not data or data.get("locked_until") is None:
        return None
    left = data["locked_until"] - timezone.now()
    return left if left.total_seconds() > 0 else None
