"""Django form errors in the shapes the GOV.UK Frontend macros take: the error summary at the
top of a page and the message above each field."""

from __future__ import annotations

from django import forms


def error_list(form: forms.Form) -> list[dict]:
    """Every error of the form for `govukErrorSummary`, each linking to its field (errors about
    the whole form link to the first field)."""
    if not form.is_bound or not form.errors:
        return []
    first = next(iter(form.fields), "")
    items = [{"text": str(e), "href": f"#{form[first].auto_id}"} for e in form.non_field_errors()]
    for name, field_errors in form.errors.items():
        if name == forms.forms.NON_FIELD_ERRORS:
            continue
        items += [{"text": str(e), "href": f"#{form[name].auto_id}"} for e in field_errors]
    return items


def field_error(form: forms.Form, name: str) -> dict | None:
    """The first error of one field for a macro's `errorMessage`, or None."""
    if not form.is_bound:
        return None
    errors = form.errors.get(name)
    return {"text": str(errors[0])} if errors else None
