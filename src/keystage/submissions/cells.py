"""The pupil grid's cells as HTML, written here rather than in the template: 25 pupils of a
dozen items each, every cell with its label, error message, control and the rules it breaks,
made the grid's template most of the page's cost under load. The markup is what the template
wrote before (GOV.UK classes, the label and aria-describedby of each control). Every value
from the data goes through markupsafe's `escape` (f-strings and `escape` rather than
`Markup.format`, whose formatter in Python cost as much as the template did)."""

from __future__ import annotations

from markupsafe import Markup, escape

INPUT_CLASSES = {"upn": "keystage-upn", "dob": "keystage-dob"}


def _notes(findings) -> str:
    return "".join(
        f'<p class="govuk-body-s keystage-cell-note'
        f'{" keystage-cell-note--error" if c.severity == "error" else ""}">'
        f'<span class="govuk-visually-hidden">{"Error" if c.severity == "error" else "Query"}:'
        f"</span> {escape(c.title)}</p>"
        for c in findings
    )


def cell(f, pupil_id: int, who: str, editor: bool) -> Markup:
    """One item's cell of the grid: `f` is a field of submissions.views._fields."""
    fid = escape(f"{pupil_id}-{f['name']}")
    described = []
    if f["error"]:
        described.append(f"{fid}-error")
    if f["findings"]:
        described.append(f"{fid}-rules")
    red = bool(f["error"] or f["in_error"])
    aria = f' aria-describedby="{" ".join(described)}"' if described else ""
    out = (
        f'<td class="govuk-table__cell{" keystage-cell--error" if red else ""}">'
        f'<div class="govuk-form-group keystage-cell-group'
        f'{" govuk-form-group--error" if f["error"] else ""}">'
        f'<label class="govuk-label govuk-visually-hidden" for="{fid}">'
        f"{escape(f['label'])} for {escape(who)}</label>"
    )
    if f["error"]:
        out += (
            f'<p class="govuk-error-message keystage-cell-message" id="{fid}-error">'
            f'<span class="govuk-visually-hidden">Error:</span> {escape(f["error"])}</p>'
        )
    if not editor:
        out += (
            f'<span id="{fid}" class="keystage-cell-value'
            f'{" keystage-cell-value--error" if red else ""}"{aria}>{escape(f["value"])}</span>'
        )
    elif f["option_tags"] is not None:
        kind = "keystage-sex" if f["name"] == "sex" else "keystage-code"
        out += (
            f'<select class="govuk-select {kind}{" govuk-select--error" if red else ""}" '
            f'id="{fid}" name="{fid}"{aria}>{f["option_tags"]}</select>'
        )
    else:
        # A mark is typed as a number: a text input with the numeric keypad (GOV.UK's advice
        # for whole numbers rather than type="number").
        kind = (
            "keystage-mark" if f.get("numeric") else INPUT_CLASSES.get(f["name"], "keystage-name")
        )
        numeric = ' inputmode="numeric"' if f.get("numeric") else ""
        out += (
            f'<input class="govuk-input {kind}'
            f'{" govuk-input--error" if red else ""}" id="{fid}" name="{fid}" type="text"{numeric} '
            f'value="{escape(f["value"])}" spellcheck="false" autocomplete="off"{aria}>'
        )
    if f["findings"]:
        out += f'<div id="{fid}-rules">{_notes(f["findings"])}</div>'
    return Markup(out + "</div></td>")  # noqa: S704 - every value above is escaped
