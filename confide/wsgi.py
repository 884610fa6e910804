import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "confide.settings")
application = get_wsgi_application()

# Refuse to serve when encrypted data exists but its keyring does not (see confide.vault.checks).
from confide.vault.checks import assert_keyring_present  # noqa: E402

assert_keyring_present()
