"""Sign-in forms. Messages follow the GOV.UK Design System's wording for errors."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate

from keystage.engine.words import digits_only


class SignInForm(forms.Form):
    username = forms.CharField(
        label="Username", max_length=150, error_messages={"required": "Enter your username"}
    )
    password = forms.CharField(
        label="Password", strip=False, error_messages={"required": "Enter your password"}
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        username, password = cleaned.get("username"), cleaned.get("password")
        if username and password:
            # The request lets django-axes count failures and refuse locked-out accounts.
            self.user = authenticate(self.request, username=username, password=password)
            if self.user is None:
                raise forms.ValidationError(
                    "Enter a correct username and password. Both are case-sensitive."
                )
        return cleaned


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=20,
        error_messages={"required": "Enter the 6-digit code from your authenticator app"},
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (digits_only(code) and len(code) == 6):
            raise forms.ValidationError("The code must be 6 digits, like 123456")
        return code


class MemberForm(forms.Form):
    """A new user, as an admin fills it in. Every choice of LA or school comes from what the
    admin may see (`scope`), so a school or LA of another tenant is refused as not a choice."""

    username = forms.CharField(
        label="Username", max_length=150, error_messages={"required": "Enter a username"}
    )
    email = forms.EmailField(
        label="Email address (optional)",
        required=False,
        error_messages={"invalid": "Enter an email address like name@example.org"},
    )
    role = forms.ChoiceField(label="Role", error_messages={"required": "Choose the user's role"})
    la = forms.ModelChoiceField(
        label="Local authority",
        queryset=None,
        required=False,
        to_field_name="code",
        error_messages={"invalid_choice": "Choose a local authority from the list"},
    )
    school = forms.ModelChoiceField(
        label="School (school users only)",
        queryset=None,
        required=False,
        error_messages={"invalid_choice": "Choose a school of your LA from the list"},
    )
    schools = forms.ModelMultipleChoiceField(
        label="Schools (LA restricted officers only)",
        queryset=None,
        required=False,
        error_messages={"invalid_choice": "Choose schools of your LA from the list"},
    )
    is_approver = forms.BooleanField(label="Approves the LA's return", required=False)

    def __init__(self, admin, *args, **kwargs):
        from keystage.accounts.models import LA_ROLES, Role
        from keystage.accounts.scope import las_for, membership_of, schools_for

        super().__init__(*args, **kwargs)
        self.admin = membership_of(admin)
        self.national = self.admin is not None and self.admin.role == Role.NATIONAL_ADMIN
        self.la_roles = LA_ROLES
        if self.national:
            roles = (Role.LA_ADMIN, Role.NATIONAL_ADMIN)
        else:
            roles = (Role.LA_OFFICER, Role.LA_RESTRICTED, Role.SCHOOL_USER, Role.LA_ADMIN)
        self.fields["role"].choices = [(r.value, r.label) for r in roles]
        # Only the fields this admin may fill: an LA sent by an LA admin is never read.
        if self.national:
            self.fields["la"].queryset = las_for(admin).order_by("code")
            for name in ("school", "schools", "is_approver"):
                del self.fields[name]
        else:
            del self.fields["la"]
            self.fields["school"].queryset = schools_for(admin).order_by("laestab")
            self.fields["schools"].queryset = schools_for(admin).order_by("laestab")

    def clean(self):
        from keystage.accounts.models import Role

        cleaned = super().clean()
        for name, empty in (
            ("la", None),
            ("school", None),
            ("schools", []),
            ("is_approver", False),
        ):
            cleaned.setdefault(name, empty)
        role = cleaned.get("role")
        if not role:
            return cleaned
        if self.national:
            if role == Role.LA_ADMIN and not cleaned.get("la"):
                self.add_error("la", "Choose the local authority this admin works for")
            if role == Role.NATIONAL_ADMIN:
                cleaned["la"] = None
        else:
            cleaned["la"] = self.admin.la
        if role == Role.SCHOOL_USER:
            if not cleaned.get("school"):
                self.add_error("school", "Choose the school this user works for")
        else:
            cleaned["school"] = None
        if role != Role.LA_RESTRICTED:
            if cleaned.get("schools"):
                self.add_error("schools", "Only LA restricted officers are given schools")
        elif not cleaned.get("schools"):
            self.add_error("schools", "Choose the schools this officer works on")
        if cleaned.get("is_approver") and role not in self.la_roles:
            self.add_error("is_approver", "Only LA users can approve the LA's return")
        return cleaned


class ApproverForm(forms.Form):
    is_approver = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        error_messages={"required": "Choose whether this user approves the LA's return"},
    )


class NewPasswordForm(forms.Form):
    """A new password, typed twice, checked by Django's validators (AUTH_PASSWORD_VALIDATORS)
    and refused when it is the password the user has now. `current` asks for that password
    first (changing it by choice); a user replacing a one-time password has just typed it."""

    current_password = forms.CharField(
        label="Current password",
        strip=False,
        error_messages={"required": "Enter your current password"},
    )
    new_password = forms.CharField(
        label="New password",
        strip=False,
        help_text="At least 12 characters. Not a common password, not only numbers, and not "
        "like your username or email address.",
        error_messages={"required": "Enter a new password"},
    )
    new_password_again = forms.CharField(
        label="Confirm new password",
        strip=False,
        error_messages={"required": "Enter the new password again"},
    )

    def __init__(self, user, *args, current: bool = True, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        if not current:
            del self.fields["current_password"]

    def clean_current_password(self) -> str:
        password = self.cleaned_data["current_password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(
                "Your current password is not right. Enter the password you signed in with"
            )
        return password

    def clean_new_password(self) -> str:
        from django.contrib.auth.password_validation import validate_password

        password = self.cleaned_data["new_password"]
        if self.user.check_password(password):
            raise forms.ValidationError(
                "Your new password must be different from the one you have now"
            )
        validate_password(password, self.user)
        return password

    def clean(self):
        cleaned = super().clean()
        new, again = cleaned.get("new_password"), cleaned.get("new_password_again")
        if new and again and new != again:
            self.add_error(
                "new_password_again",
                "The two new passwords are different: type the same password twice",
            )
        return cleaned


class TwoFactorForForm(forms.Form):
    def __init__(self, *args, **kwargs):
        from keystage.accounts.models import TwoFactorFor

        super().__init__(*args, **kwargs)
        self.fields["two_factor_for"] = forms.ChoiceField(
            choices=TwoFactorFor.choices,
            error_messages={
                "required": "Choose who must use two-factor sign-in",
                "invalid_choice": "Choose who must use two-factor sign-in",
            },
        )
