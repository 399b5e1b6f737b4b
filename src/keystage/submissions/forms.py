"""The upload form: one or many school files or zips. Messages follow the GOV.UK Design
System's wording for file upload errors."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings

ALLOWED_SUFFIXES = (".xml", ".csv", ".zip")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadForm(forms.Form):
    # A plain Field: FileField takes one file, and the checks below look at each of them.
    files = forms.Field(
        label="Upload school files",
        widget=MultipleFileInput,
        required=False,  # checked in clean_files, with our own message
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].widget.attrs["multiple"] = True

    def clean_files(self) -> list:
        files = [f for f in self.files.getlist("files") if f.name] if self.files else []
        if not files:
            raise forms.ValidationError("Select a school file or a zip file")
        wrong = [f.name for f in files if Path(f.name).suffix.lower() not in ALLOWED_SUFFIXES]
        if wrong:
            raise forms.ValidationError(
                f"The selected file {wrong[0]} must be a CTF XML file (.xml), a CSV file (.csv) "
                "or a zip file (.zip)"
            )
        limit_mb = settings.KEYSTAGE_MAX_UPLOAD_MB
        if sum(f.size for f in files) > limit_mb * 1024 * 1024:
            which = "selected file" if len(files) == 1 else "selected files together"
            raise forms.ValidationError(
                f"The {which} must be smaller than {limit_mb}MB: upload fewer files at a time"
            )
        return files
