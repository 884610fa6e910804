"""The `confide` command: Django's management commands plus Confide's own
(`confide demo`, and later `confide keys …`, `confide audit verify`, …)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "confide.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings: a configuration error is said here, in one line
    except ImproperlyConfigured as exc:
        # Django would go on without settings and fail later with a traceback about an unknown
        # command ("demo"): the operator's mistake (no data directory, a malformed variable) is
        # the message, and the status says it failed.
        sys.stderr.write(f"confide: {exc}\n")
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
