"""Django settings for Confide. Everything that varies per deployment comes from the
environment through `confide.env`; the defaults are the safe ones (DEBUG off, HTTPS on)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from confide.env import env_bool, env_int, env_list, env_path, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = env_path("CONFIDE_DATA_DIR", Path.cwd() / "var")

# Dev mode is the one place a placeholder secret is tolerated (tests, a throwaway checkout).
DEV_MODE = env_bool("CONFIDE_DEV_MODE", False)
DEBUG = env_bool("CONFIDE_DEBUG", False)
if DEBUG and not DEV_MODE:
    raise ImproperlyConfigured("CONFIDE_DEBUG=1 is only allowed together with CONFIDE_DEV_MODE=1")

PLACEHOLDER_SECRET_KEY = "confide-dev-placeholder-secret-key-not-for-production"
# `make run` keeps the key it made in the data directory; finding it there when neither
# variable is set lets the CLI (`confide demo --code`, `confide audit verify`, ...) run against
# that data directory from another shell without repeating `make run`'s environment.
_DATA_DIR_SECRET_KEY = DATA_DIR / "secret_key"
SECRET_KEY = (
    env_secret("CONFIDE_SECRET_KEY")
    or (_DATA_DIR_SECRET_KEY.read_text().strip() if _DATA_DIR_SECRET_KEY.is_file() else "")
    or PLACEHOLDER_SECRET_KEY
)
if SECRET_KEY == PLACEHOLDER_SECRET_KEY and not DEV_MODE:
    raise ImproperlyConfigured(
        "CONFIDE_SECRET_KEY (or CONFIDE_SECRET_KEY_FILE, or a file CONFIDE_DATA_DIR/secret_key) must be set "
        f"outside dev mode, and CONFIDE_DATA_DIR ({DATA_DIR}) has no secret_key file: point CONFIDE_DATA_DIR "
        "at the data directory `make run` uses (var/ in the checkout); `make run` creates the file"
    )
if len(SECRET_KEY) < 50 and not DEV_MODE:
    raise ImproperlyConfigured("CONFIDE_SECRET_KEY must be at least 50 characters")

ALLOWED_HOSTS = env_list("CONFIDE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CONFIDE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "axes",
    "csp",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "confide.core",
    "confide.accounts",
    "confide.vault",
    "confide.audit",
    "confide.access",
    "confide.policy",
    "confide.consent",
    "confide.records",
    "confide.messaging",
    "confide.scheduling",
    "confide.directory",
    "confide.disclosures",
    "confide.retention",
    "confide.rights",
    "confide.portal",
    "confide.site",  # entry points above every domain: the demo, confide keys
]

MIDDLEWARE = [
    "confide.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "confide.accounts.middleware.PracticeMiddleware",
    # the one-time "your access to …'s record ended" after a guardian link ends at 18 (MIN3)
    "confide.portal.middleware.EndedAccessNoticeMiddleware",
    # GPC / DNT on public practice pages, the visitor cookie, request.privacy_signals (TRK3)
    "confide.consent.middleware.PrivacySignalsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "confide.urls"
WSGI_APPLICATION = "confide.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "confide.core.context_processors.practice",
                "confide.policy.context_processors.notice_banners",  # POL2: the in-app announcement
                "confide.messaging.context_processors.unread_counts",  # the inbox's and the portal's unread numbers
            ],
        },
    }
]


# --- Database ------------------------------------------------------------------------------
# SQLite under the data directory unless DATABASE_URL names another database. On PostgreSQL
# the application connects as an ordinary role (row-level security applies to it); migrations
# run as the owning role given by DATABASE_MIGRATE_URL (`confide migrate --database owner`).
def _sqlite(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        },
    }


def _postgres(url: str, name: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("CONFIDE_DB_CONN_MAX_AGE", 60, minimum=0))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a database URL: {exc}") from None
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{name} must be a postgres:// URL (SQLite is the default without it)")
    # Our backend subclass carries the tenant context into each transaction for row-level security.
    config["ENGINE"] = "confide.core.db.postgresql"
    return config


_database_url = env_str("DATABASE_URL")
if not _database_url:
    try:
        DATA_DIR.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    else:  # the operator's alone: it holds the database, the keyring and the secret key
        DATA_DIR.chmod(0o700)  # mkdir's mode is filtered by the umask
DATABASES = {"default": _postgres(_database_url, "DATABASE_URL") if _database_url else _sqlite(DATA_DIR / "confide.sqlite3")}
_migrate_url = env_str("DATABASE_MIGRATE_URL")
if _migrate_url:
    DATABASES["owner"] = _postgres(_migrate_url, "DATABASE_MIGRATE_URL")
DATABASE_ROUTERS = ["confide.core.db.routers.MigratingDatabaseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Accounts, passwords, MFA, lockout -----------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# The data subjects' model, for the layers below records (confide/core/subjects.py).
CONFIDE_PATIENT_MODEL = "records.Patient"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials before checking them
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

OTP_TOTP_ISSUER = env_str("CONFIDE_OTP_ISSUER", "Confide")
OTP_TOTP_THROTTLE_FACTOR = 1
# Wrong codes in a row before the back-off (1, 2, 4 … seconds) starts (accounts/models.py).
CONFIDE_MFA_FREE_FAILURES = env_int("CONFIDE_MFA_FREE_FAILURES", 3, minimum=0, maximum=10)
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Passkeys of portal accounts (accounts/passkeys.py). The relying party id is the host people
# reach the portal at (the request's, without its port) unless set here, e.g. "example.org" to
# share passkeys between portal.example.org and www.example.org. Failed passkey sign-ins per
# client address are limited like password sign-ins: this many per lockout window.
CONFIDE_WEBAUTHN_RP_ID = env_str("CONFIDE_WEBAUTHN_RP_ID").strip().lower()
CONFIDE_PASSKEY_FAILURE_LIMIT = env_int("CONFIDE_PASSKEY_FAILURE_LIMIT", 10, minimum=1)
# Passkey sign-in challenges asked for per client address and window (each is a row until it
# expires, and anyone may ask): far above what people signing in from one address need.
CONFIDE_PASSKEY_OPTIONS_LIMIT = env_int("CONFIDE_PASSKEY_OPTIONS_LIMIT", 120, minimum=10)
CONFIDE_WEBAUTHN_TIMEOUT_SECONDS = 300
# Password reset by e-mail (accounts/reset.py): how long a link works, and requests per clock
# hour per e-mail address (known or not) and per client address, counted in the database.
PASSWORD_RESET_TIMEOUT = 60 * env_int("CONFIDE_PASSWORD_RESET_MINUTES", 60, minimum=5, maximum=24 * 60)
CONFIDE_PASSWORD_RESET_PER_ADDRESS_HOUR = env_int("CONFIDE_PASSWORD_RESET_PER_ADDRESS_HOUR", 3, minimum=1, maximum=100)
CONFIDE_PASSWORD_RESET_PER_IP_HOUR = env_int("CONFIDE_PASSWORD_RESET_PER_IP_HOUR", 20, minimum=1, maximum=10000)
# Minutes a password+MFA check stays fresh for exports, role changes and MFA changes.
CONFIDE_RECENT_AUTH_MINUTES = env_int("CONFIDE_RECENT_AUTH_MINUTES", 10, minimum=1, maximum=60)
# How long an invitation link to join a practice works (accounts/invitations.py).
CONFIDE_INVITATION_HOURS = env_int("CONFIDE_INVITATION_HOURS", 72, minimum=1, maximum=24 * 14)
# How long a patient portal invitation link works (accounts/portal_invitations.py).
CONFIDE_PORTAL_INVITE_DAYS = env_int("CONFIDE_PORTAL_INVITE_DAYS", 7, minimum=1, maximum=30)

# Lock a (username, IP) pair out for a cool-off after repeated failures, and a username from
# any address after more: never permanent, never by IP alone (a shared clinic IP must not lock
# out the whole practice; a botnet must not get unlimited guesses at one account).
AXES_FAILURE_LIMIT = env_int("CONFIDE_LOCKOUT_FAILURES", 5, minimum=2)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CONFIDE_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "confide.accounts.views.locked_out"
AXES_USERNAME_FORM_FIELD = "username"
# A keyed hash of the lower-cased address (one counter for "Owner@…" and "owner@…"; the typed
# address, perhaps a patient's or a mistyped one, is never stored). Attempts live for the
# cool-off only; no access logs (the audit log records sign-ins): confide/accounts/lockout.py.
AXES_USERNAME_CALLABLE = "confide.accounts.lockout.username_for_lockout"
AXES_HANDLER = "confide.accounts.lockout.MinimalDatabaseHandler"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_DISABLE_ACCESS_LOG = True
AXES_CLIENT_IP_CALLABLE = "confide.core.http.client_ip"  # the app's one reading of the address


# --- Sessions, cookies, transport ----------------------------------------------------------
HTTPS = env_bool("CONFIDE_HTTPS", True)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 12 * 60 * 60  # hard cap; inactivity is enforced per practice by middleware
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = HTTPS and env_bool("CONFIDE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("CONFIDE_HSTS_SECONDS", 31536000, minimum=0) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Preloading is the domain owner's one-way decision (it covers every subdomain, for months), not
# the application's: opt in with CONFIDE_HSTS_PRELOAD=1; `check --deploy` does not nag otherwise.
SECURE_HSTS_PRELOAD = HTTPS and env_bool("CONFIDE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("CONFIDE_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front of gunicorn append to X-Forwarded-For (core/http.py::client_ip):
# 0 = none, the client's address is REMOTE_ADDR; behind N, the N-th entry from the right.
CONFIDE_TRUSTED_PROXY_COUNT = env_int("CONFIDE_TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)

# One policy dict, so moving to Django 6's built-in CSP later is mechanical. No inline script
# or style anywhere: htmx is configured not to inject its indicator styles or use eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}


# --- Static files, email -------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the project-wide assets (vendored Bootstrap and htmx)
# `confide collectstatic` writes here for production; the demo serves from the package directly.
STATIC_ROOT = env_path("CONFIDE_STATIC_ROOT", DATA_DIR / "static")
if not STATIC_ROOT.is_dir():
    STATIC_ROOT = None if not env_str("CONFIDE_STATIC_ROOT") else STATIC_ROOT
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CONFIDE_UPLOAD_MAX_BYTES = env_int("CONFIDE_UPLOAD_MAX_BYTES", 25 * 1024 * 1024, minimum=1)  # vault/files.py
# Seconds an unwrapped subject keyset stays in a worker's memory between requests (vault/keys.py);
# 0 turns the cache off. A shred or rotation ends it at once in every process (key generation).
CONFIDE_KEY_CACHE_SECONDS = env_int("CONFIDE_KEY_CACHE_SECONDS", 300, minimum=0, maximum=3600)
# Pixels an uploaded image may declare in its header (checked before a pixel is decoded). Decoding
# and re-encoding holds about 8 bytes per pixel at its peak: 40 million pixels is ~320 MB for one
# upload in flight; it admits 24 MP phone photos and 600 dpi letter-size scans (34 MP).
CONFIDE_UPLOAD_MAX_PIXELS = env_int("CONFIDE_UPLOAD_MAX_PIXELS", 40_000_000, minimum=1, maximum=178_000_000)
# File parts one request may carry (records/uploads.py); the ones past it are not kept at all.
CONFIDE_UPLOAD_MAX_FILES = env_int("CONFIDE_UPLOAD_MAX_FILES", 10, minimum=1, maximum=100)
# `confide fhir import` refuses a bundle file larger than this before reading it (records/fhir.py):
# a whole bundle is parsed in memory, and a patient's record is a few MB at most (Synthea's: < 1 MB).
CONFIDE_FHIR_MAX_BUNDLE_BYTES = env_int("CONFIDE_FHIR_MAX_BUNDLE_BYTES", 50 * 1024 * 1024, minimum=1)
# The portal's "Download my record" (portal/exports.py): a made file (FHIR or PDF) is offered to
# the account that asked for it this many minutes after it is ready, then deleted by the clean-up.
CONFIDE_PORTAL_DOWNLOAD_MINUTES = env_int("CONFIDE_PORTAL_DOWNLOAD_MINUTES", 15, minimum=1, maximum=24 * 60)
# Uploads are spooled to an encrypted, nameless temporary file as they arrive: never whole in
# memory, never on disk in clear (records/uploads.py, vault/spool.py).
FILE_UPLOAD_HANDLERS = ["confide.records.uploads.EncryptedSpoolUploadHandler"]
WHITENOISE_USE_FINDERS = True  # serve from the package in place; no collectstatic step for the demo
WHITENOISE_AUTOREFRESH = False

EMAIL_BACKEND = env_str("CONFIDE_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = DATA_DIR / "outbox"
DEFAULT_FROM_EMAIL = env_str("CONFIDE_FROM_EMAIL", "Confide <no-reply@confide.invalid>")
# Where links in e-mails point (password resets, break-the-glass alerts, material-change notices):
# the address people reach this site at, e.g. https://confide.example.org. `make run` sets it from
# PORT. Unset, a local demo on plain HTTP (CONFIDE_HTTPS=0) links to http://127.0.0.1:$PORT (8000
# when PORT is unset too); a deployment (HTTPS on) gets no invented address: it stays empty and
# `confide check --deploy` reports it (confide/core/checks.py, confide.E002).
CONFIDE_BASE_URL = env_str("CONFIDE_BASE_URL").strip().rstrip("/")
if CONFIDE_BASE_URL:
    from urllib.parse import urlsplit

    _base = urlsplit(CONFIDE_BASE_URL)
    if _base.scheme not in {"http", "https"} or not _base.netloc or _base.query or _base.fragment:
        raise ImproperlyConfigured(f"CONFIDE_BASE_URL must be an http(s) address like https://confide.example.org; got {CONFIDE_BASE_URL!r}")
elif not HTTPS:
    CONFIDE_BASE_URL = f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1, maximum=65535)}"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True


# --- Cache: the consent pages' new-visitor cap, shared by every worker of this machine ----------
# (a directory under the data directory; past one machine, CONFIDE_REDIS_URL points it at Redis).
# The consultation limit and one-time tokens are not here: they are in the database.
_redis_url = env_str("CONFIDE_REDIS_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
    if _redis_url
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(DATA_DIR / "cache")}
}
# Online consultation attempts per client address (kept as a keyed hash), per practice and clock
# hour, counted in the database (records/intake.py::_count_attempt). Refused attempts count too, so
# the default leaves room for a few corrected mistakes beside the consultations themselves.
CONFIDE_CONSULT_PER_HOUR = env_int("CONFIDE_CONSULT_PER_HOUR", 10, minimum=1, maximum=1000)

# The practice's country (ISO 3166 alpha-2): phone numbers typed without a country code are
# read as this country's, stored in E.164 and shown in its national format (records/values.py).
CONFIDE_PHONE_REGION = (env_str("CONFIDE_PHONE_REGION", "US") or "US").upper()
if not (len(CONFIDE_PHONE_REGION) == 2 and CONFIDE_PHONE_REGION.isascii() and CONFIDE_PHONE_REGION.isalpha()):
    raise ImproperlyConfigured("CONFIDE_PHONE_REGION is a two-letter country code such as US, GB or DE")


# --- Messaging (confide/messaging): SMS through a port, e-mail through Django's backend --------
# CONFIDE_SMS_ADAPTER: `console` (default; texts stay in the outbox, `confide outbox`) or `twilio`
# (the official SDK; the `sms` processor must be declared in use with a BAA to carry PHI).
CONFIDE_SMS_ADAPTER = env_str("CONFIDE_SMS_ADAPTER", "console") or "console"
# (A dotted path to an adapter class is accepted too: the crash tests run a worker with one.)
if CONFIDE_SMS_ADAPTER not in ("console", "twilio") and "." not in CONFIDE_SMS_ADAPTER:
    raise ImproperlyConfigured(f"CONFIDE_SMS_ADAPTER must be console or twilio; got {CONFIDE_SMS_ADAPTER!r}")
CONFIDE_TWILIO_ACCOUNT_SID = env_str("CONFIDE_TWILIO_ACCOUNT_SID")
# The auth token signs Twilio's webhooks (X-Twilio-Signature) and authenticates API calls.
CONFIDE_TWILIO_AUTH_TOKEN = env_str("CONFIDE_TWILIO_AUTH_TOKEN")
CONFIDE_TWILIO_FROM = env_str("CONFIDE_TWILIO_FROM")  # the practice's number (E.164), or…
CONFIDE_TWILIO_MESSAGING_SERVICE_SID = env_str("CONFIDE_TWILIO_MESSAGING_SERVICE_SID")  # …a Messaging Service
# Where the SDK sends its API requests; tests point it at a Twilio-shaped server on loopback.
CONFIDE_TWILIO_API_BASE = env_str("CONFIDE_TWILIO_API_BASE", "https://api.twilio.com").rstrip("/")
# The public URL Twilio calls (scheme, host, port as configured at Twilio): signatures are
# computed over it, never over the Host header a proxy may rewrite. Defaults to CONFIDE_BASE_URL.
CONFIDE_TWILIO_WEBHOOK_BASE = (env_str("CONFIDE_TWILIO_WEBHOOK_BASE") or "").rstrip("/")
# Each Twilio API request's connect and read timeout; a timeout is retried with backoff.
CONFIDE_TWILIO_TIMEOUT_SECONDS = env_int("CONFIDE_TWILIO_TIMEOUT_SECONDS", 10, minimum=1, maximum=120)
# How long a worker's claim on a send lasts before another worker may recover it (asking the
# provider first). Longer than the slowest provider call; short only in tests.
CONFIDE_MESSAGING_LEASE_SECONDS = env_int("CONFIDE_MESSAGING_LEASE_SECONDS", 120, minimum=1, maximum=3600)


# --- Google Calendar, read-only (scheduling/google.py; issue 16, google part) -------------------
# The OAuth client the operator registers at Google (type "Web application", redirect URI
# <CONFIDE_BASE_URL>/calendar/google/callback/). Unset: the Google Calendar page says the server's
# operator has not set it up, and no clinician can connect.
CONFIDE_GOOGLE_CLIENT_ID = env_str("CONFIDE_GOOGLE_CLIENT_ID")
CONFIDE_GOOGLE_CLIENT_SECRET = env_str("CONFIDE_GOOGLE_CLIENT_SECRET")
# One base URL standing in for Google's three hosts (accounts.google.com, oauth2.googleapis.com,
# www.googleapis.com); tests point it at a Google-shaped server on loopback. Empty: Google's own.
CONFIDE_GOOGLE_API_BASE = (env_str("CONFIDE_GOOGLE_API_BASE") or "").rstrip("/")
# Each call to Google (token, revocation, events.list): a slow Google must not hold a page.
CONFIDE_GOOGLE_TIMEOUT_SECONDS = env_int("CONFIDE_GOOGLE_TIMEOUT_SECONDS", 3, minimum=1, maximum=30)

# --- Privacy policy: a material change is published at least this many days before it applies
CONFIDE_POLICY_MATERIAL_NOTICE_DAYS = env_int("CONFIDE_POLICY_MATERIAL_NOTICE_DAYS", 30, minimum=1, maximum=365)


# --- Consent: new visitor ids (cookie-less clients recording a choice or a browser signal) per
# IP address per hour; beyond it a signal is still honoured, just not recorded (confide/consent/signals.py).
CONFIDE_CONSENT_NEW_VISITORS_PER_IP_HOUR = env_int("CONFIDE_CONSENT_NEW_VISITORS_PER_IP_HOUR", 30, minimum=1, maximum=100000)


# --- Background work: the Django Tasks API (django-tasks), database backend by default ----------
# `confide db_worker` runs the queue (make run starts one beside the web server). Task arguments
# are ids only, never PHI: they are stored in plain text in the task table.
# CONFIDE_TASKS_BACKEND=immediate runs each task in the enqueuing process (one-off scripts).
_TASK_BACKENDS = {"database": "django_tasks_db.DatabaseBackend", "immediate": "django_tasks.backends.immediate.ImmediateBackend"}
CONFIDE_TASKS_BACKEND = env_str("CONFIDE_TASKS_BACKEND", "database")
if CONFIDE_TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(f"CONFIDE_TASKS_BACKEND must be one of {', '.join(_TASK_BACKENDS)}; got {CONFIDE_TASKS_BACKEND!r}")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[CONFIDE_TASKS_BACKEND]}}


# --- Audit log: signed checkpoints outside the database (confide/audit/checkpoints.py) -------
# A checkpoint every N entries of a chain, or when one is appended M minutes after the last one.
# How often `confide audit seal --follow` seals the entries waiting in each chain: the bound on
# how long an entry waits for its sequence number and chain hash (docs/operations.md).
CONFIDE_AUDIT_SEAL_SECONDS = env_int("CONFIDE_AUDIT_SEAL_SECONDS", 1, minimum=1)
CONFIDE_AUDIT_CHECKPOINT_EVERY = env_int("CONFIDE_AUDIT_CHECKPOINT_EVERY", 100, minimum=1)
CONFIDE_AUDIT_CHECKPOINT_MINUTES = env_int("CONFIDE_AUDIT_CHECKPOINT_MINUTES", 10, minimum=1)
# `confide audit verify`: a chain longer than this is verified in segments of about this many
# entries, `--jobs` processes at a time (confide/audit/verify.py); tests set it small to walk every
# tamper case through the segment merge.
CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES = env_int("CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES", 50_000, minimum=1)
CONFIDE_AUDIT_CHECKPOINT_SINK = env_str("CONFIDE_AUDIT_CHECKPOINT_SINK", "directory")  # directory | s3
if CONFIDE_AUDIT_CHECKPOINT_SINK not in {"directory", "s3"}:
    raise ImproperlyConfigured(f"CONFIDE_AUDIT_CHECKPOINT_SINK must be directory or s3; got {CONFIDE_AUDIT_CHECKPOINT_SINK!r}")
CONFIDE_AUDIT_CHECKPOINT_DIR = env_path("CONFIDE_AUDIT_CHECKPOINT_DIR", DATA_DIR / "audit-checkpoints")
# s3: a bucket created with Object Lock enabled; objects locked in COMPLIANCE mode for RETAIN_DAYS
# (default six years, HIPAA's retention for documentation). ENDPOINT_URL for S3-compatible stores.
CONFIDE_AUDIT_CHECKPOINT_S3_BUCKET = env_str("CONFIDE_AUDIT_CHECKPOINT_S3_BUCKET")
CONFIDE_AUDIT_CHECKPOINT_S3_PREFIX = env_str("CONFIDE_AUDIT_CHECKPOINT_S3_PREFIX", "audit-checkpoints/")
CONFIDE_AUDIT_CHECKPOINT_S3_RETAIN_DAYS = env_int("CONFIDE_AUDIT_CHECKPOINT_S3_RETAIN_DAYS", 2190, minimum=1)
CONFIDE_AUDIT_CHECKPOINT_S3_ENDPOINT_URL = env_str("CONFIDE_AUDIT_CHECKPOINT_S3_ENDPOINT_URL")
if CONFIDE_AUDIT_CHECKPOINT_SINK == "s3" and not CONFIDE_AUDIT_CHECKPOINT_S3_BUCKET:
    raise ImproperlyConfigured("CONFIDE_AUDIT_CHECKPOINT_SINK=s3 needs CONFIDE_AUDIT_CHECKPOINT_S3_BUCKET")


# --- Logging: JSON lines with a request id; never PHI (see confide/logging.py) --------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "confide.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "confide.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("CONFIDE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
