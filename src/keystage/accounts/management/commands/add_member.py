"""Create a user with a role, for the first national admin or a scripted set-up:
`python -m keystage.manage add_member NAME --role la_admin --la 938`. The password is asked
for, or read from the environment variable named by --password-env."""

from __future__ import annotations

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from keystage.accounts.actions import do_create_member
from keystage.accounts.models import Role
from keystage.orgs.models import LocalAuthority, School


class Command(BaseCommand):
    help = "Create a Keystage user with a role (national_admin, la_admin, la_officer, ...)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--la", metavar="LLL", help="the LA number, for LA roles")
        parser.add_argument("--school", metavar="LAESTAB", help="the school, for school users")
        parser.add_argument("--approver", action="store_true", help="may approve the LA return")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-env", metavar="VAR", help="read the password from this variable"
        )

    def handle(self, *args, **opts):
        la = school = None
        if opts["la"]:
            la = LocalAuthority.objects.filter(code=opts["la"]).first()
            if la is None:
                raise CommandError(f"LA {opts['la']} is not loaded; run `keystage init` first")
        if opts["school"]:
            school = School.objects.filter(laestab=opts["school"]).first()
            if school is None:
                raise CommandError(f"school {opts['school']} is not in the schools register")
            la = la or school.la
        if opts["password_env"]:
            password = os.environ.get(opts["password_env"], "")
            if not password:
                raise CommandError(f"{opts['password_env']} is empty")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password again: "):
                raise CommandError("the two passwords differ")
        try:
            membership = do_create_member(
                opts["username"],
                role=opts["role"],
                la=la,
                school=school,
                is_approver=opts["approver"],
                password=password,
                email=opts["email"],
            )
        except ValidationError as e:
            raise CommandError("; ".join(e.messages)) from None
        self.stdout.write(f"Created {membership}.")
