"""Django's management commands for Keystage: `python -m keystage.manage COMMAND`
(for example `check --deploy`, `migrate`, `add_member`)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keystage.web.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
