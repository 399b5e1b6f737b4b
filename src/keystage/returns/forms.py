"""Forms of the return pages: confirming a build with open items, uploading return files, and
the collector sending a school return back to its LA."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings

from keystage.submissions.forms import MultipleFileInput


class BuildForm(forms.Form):
    confirm = forms.BooleanField(required=False)


class ReturnUploadForm(forms.Form):
    files = forms.Field(label="Upload return files", widget=MultipleFileInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].widget.attrs["multiple"] = True

    def clean_files(self) -> list:
        files = [f for f in self.files.getlist("files") if f.name] if self.files else []
        if not files:
            raise forms.ValidationError("Select a return file (.xml) or a zip of return files")
        wrong = [f.name for f in files if Path(f.name).suffix.lower() not in (".xml", ".zip")]
        if wrong:
            raise forms.ValidationError(
                f"The selected file {wrong[0]} must be a return file (.xml) or a zip file (.zip)"
            )
        limit_mb = settings.KEYSTAGE_MAX_UPLOAD_MB
        if sum(f.size for f in files) > limit_mb * 1024 * 1024:
            raise forms.ValidationError(
                f"The selected files must be smaller than {limit_mb}MB together: upload fewer "
                "files at a time"
            )
        return files


class SendBackForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        strip=True,
        error_messages={
            "required": "Enter why the return is sent back: the LA reads it to correct the data",
            "max_length": "The reason must be 2000 characters or fewer",
        },
    )
