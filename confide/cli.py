"""The `confide` command: Django's management commands plus Confide's own
(`confide demo`, and later `confide keys …`, `confide audit verify`, …)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "confide.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
