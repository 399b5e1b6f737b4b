"""Helpers of the return tests (the `la938` fixture is in conftest.py)."""

from __future__ import annotations

from keystage.submissions.models import Finding


def explain_everything(la) -> None:
    """Give every open query of the LA an explanation, so its return can be authorised."""
    Finding.objects.filter(la=la, is_current=True, severity="query").update(
        explanation="Checked with the school"
    )
