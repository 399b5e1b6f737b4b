"""Forms of the school check loop: releasing reports, confirming, querying and answering, and
what the LA lets its schools see."""

from __future__ import annotations

from django import forms

from keystage.collection.models import LaCollectionSettings

MAX_BODY = 5000


class ReleaseForm(forms.Form):
    """Release to the schools ticked, or (`release=filter`) to every school with data that the
    page's filter keeps (the view applies the filter)."""

    schools = forms.MultipleChoiceField(required=False)
    note = forms.CharField(required=False, max_length=MAX_BODY)
    release = forms.ChoiceField(
        choices=[("selected", "selected"), ("filter", "filter")],
        error_messages={
            "required": "Choose to release to the schools you selected or to every school shown",
            "invalid_choice": "Choose to release to the schools you selected or to every school "
            "shown",
        },
    )

    def __init__(self, *args, schools=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["schools"].choices = [(s.laestab, s.name) for s in schools]
        self.fields["schools"].error_messages["invalid_choice"] = (
            "%(value)s is not one of your schools with data to release"
        )
        self.fields["note"].error_messages["max_length"] = (
            f"The message to schools must be {MAX_BODY} characters or fewer"
        )

    def clean(self):
        data = super().clean()
        if data.get("release") == "selected" and not data.get("schools") and not self.errors:
            self.add_error("schools", "Select the schools to release checking reports to")
        return data


class RemindForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=MAX_BODY,
        error_messages={
            "max_length": f"The message to schools must be {MAX_BODY} characters or fewer"
        },
    )


class ConfirmForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        error_messages={"required": "Enter your full name",
                        "max_length": "Your name must be 200 characters or fewer"},
    )  # fmt: skip
    job_title = forms.CharField(
        max_length=200,
        error_messages={"required": "Enter your job title, for example Headteacher",
                        "max_length": "Your job title must be 200 characters or fewer"},
    )  # fmt: skip
    correct = forms.BooleanField(
        error_messages={
            "required": "Select that you confirm the data is correct, or send a query instead"
        },
    )


class QueryForm(forms.Form):
    """A message about the data; the school names the pupils it is about."""

    upns = forms.MultipleChoiceField(required=False)
    body = forms.CharField(
        max_length=MAX_BODY,
        error_messages={"required": "Enter your message",
                        "max_length": f"Your message must be {MAX_BODY} characters or fewer"},
    )  # fmt: skip

    def __init__(self, *args, pupils=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["upns"].choices = [
            (p["upn"], f"{p['surname']}, {p['forename']} ({p['upn']})") for p in pupils
        ]
        self.fields["upns"].error_messages["invalid_choice"] = (
            "%(value)s is not a pupil in your school's current data"
        )


class SchoolSeesForm(forms.Form):
    school_sees = forms.ChoiceField(
        choices=LaCollectionSettings.SchoolSees.choices,
        error_messages={"required": "Select what your schools may see",
                        "invalid_choice": "Select what your schools may see"},
    )  # fmt: skip
