"""Forms of the dashboard: the LA's deadline for schools and the expected cohorts file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from django import forms

from keystage.engine.words import digits_only

MAX_COHORT_FILE_BYTES = 2 * 1024 * 1024


class SchoolDeadlineForm(forms.Form):
    """A GOV.UK date input (day, month, year). All three empty: use the suggested date."""

    day = forms.IntegerField(required=False, min_value=1, max_value=31)
    month = forms.IntegerField(required=False, min_value=1, max_value=12)
    year = forms.IntegerField(required=False, min_value=2000, max_value=2100)

    def __init__(self, *args, opens: dt.date | None = None, national: dt.date | None = None,
                 **kwargs):  # fmt: skip
        super().__init__(*args, **kwargs)
        self.opens, self.national = opens, national
        for f in self.fields.values():
            f.error_messages = {
                "invalid": "The deadline must be a real date, for example 27 6 2023",
                "min_value": "The deadline must be a real date, for example 27 6 2023",
                "max_value": "The deadline must be a real date, for example 27 6 2023",
            }

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        parts = [data.get("day"), data.get("month"), data.get("year")]
        if all(p is None for p in parts):
            data["school_deadline"] = None
            return data
        if any(p is None for p in parts):
            raise forms.ValidationError(
                "The deadline must include a day, month and year", code="incomplete"
            )
        try:
            deadline = dt.date(data["year"], data["month"], data["day"])
        except ValueError as e:
            raise forms.ValidationError(
                "The deadline must be a real date, for example 27 6 2023"
            ) from e
        if self.opens and deadline < self.opens:
            raise forms.ValidationError(
                f"The deadline must be on or after the day the collection opens "
                f"({self.opens:%-d %B %Y})"
            )
        if self.national and deadline > self.national:
            raise forms.ValidationError(
                f"The deadline must be on or before the national deadline "
                f"({self.national:%-d %B %Y})"
            )
        data["school_deadline"] = deadline
        return data


def _fold(header: str) -> str:
    return re.sub(r"[\s_.\-]+", "", header.strip().lower())


SCHOOL_HEADERS = {"laestab": "laestab", "dfeno": "laestab", "dfenumber": "laestab", "urn": "urn"}
PUPIL_HEADERS = {"expectedpupils", "expected", "pupils", "expectedcohort", "cohort", "year2pupils"}


class ExpectedCohortForm(forms.Form):
    """A CSV with a column LAESTAB (or URN) and a column of expected pupils. `clean_file` turns
    it into [(school, pupils)], or lists every line that is wrong (nothing is stored then)."""

    file = forms.FileField(
        error_messages={"required": "Select a CSV file of expected pupils"},
    )

    def __init__(self, *args, schools=None, la_name: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.schools = schools  # the schools of the LA the user may see
        self.la_name = la_name

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = upload.name
        if upload.size > MAX_COHORT_FILE_BYTES:
            raise forms.ValidationError(
                f"{name} is larger than 2MB: it should be one line a school"
            )
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise forms.ValidationError(f"{name} is not a CSV file saved as UTF-8") from e
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            raise forms.ValidationError(f"{name} is empty")
        folded = [_fold(h) for h in header]
        key_col = next((i for i, h in enumerate(folded) if h in SCHOOL_HEADERS), None)
        pupils_col = next((i for i, h in enumerate(folded) if h in PUPIL_HEADERS), None)
        if key_col is None or pupils_col is None:
            raise forms.ValidationError(
                f"{name} needs a column LAESTAB (or URN) and a column Expected pupils "
                "in its first line"
            )
        key = SCHOOL_HEADERS[folded[key_col]]
        by_key = {getattr(s, key): s for s in self.schools}
        cohorts, problems, seen = [], [], set()
        for line_no, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            code = row[key_col].strip() if key_col < len(row) else ""
            count = row[pupils_col].strip() if pupils_col < len(row) else ""
            school = by_key.get(code)
            if school is None:
                problems.append(
                    f"{name} line {line_no}: {key.upper()} {code or '(blank)'} is not a "
                    f"school of {self.la_name} you work on"
                )
                continue
            if not digits_only(count) or int(count) > 10000:
                problems.append(
                    f"{name} line {line_no}: expected pupils for {school.laestab} must be a "
                    f"whole number, not {count or '(blank)'}"
                )
                continue
            if school.pk in seen:
                problems.append(f"{name} line {line_no}: {school.laestab} is listed twice")
                continue
            seen.add(school.pk)
            cohorts.append((school, int(count)))
        if problems:
            more = len(problems) - 10
            raise forms.ValidationError(
                problems[:10] + ([f"and {more} more lines like these"] if more > 0 else [])
            )
        if not cohorts:
            raise forms.ValidationError(f"{name} lists no schools")
        return cohorts
