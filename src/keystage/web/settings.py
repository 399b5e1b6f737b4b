"""Django settings, from the environment.

`DATABASE_URL` chooses the database: an SQLite file under the data directory by default
(the embedded default), `postgresql://...` in production. `KEYSTAGE_DATA_DIR` holds the SQLite
file, kept copies of uploaded files and the generated secret key.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("KEYSTAGE_DATA_DIR", Path.cwd() / "var")).resolve()
UPLOAD_STORE = DATA_DIR / "uploads"

# Children's personal data: every file and folder Keystage makes (kept files, the SQLite
# database and its journal, return files, web uploads waiting for the worker) is its own
# user's alone, 0600 and 0700 (docs/retention.md). The data directory itself too, when it is
# ours.
os.umask(0o077)
if DATA_DIR.is_dir() and DATA_DIR.stat().st_uid == os.getuid():
    DATA_DIR.chmod(0o700)


def _secret_key() -> str:
    if key := os.environ.get("KEYSTAGE_SECRET_KEY"):
        return key
    # A per-installation key kept beside the data, so a fresh clone works with no set-up
    # and no key is ever committed.
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("KEYSTAGE_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("KEYSTAGE_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "django_tasks",
    # Before django_tasks_db: its `db_worker` command is keystage.worker's (heartbeat, recovery).
    "keystage.worker",
    "django_tasks_db",
    "keystage.audit",
    "keystage.orgs",
    "keystage.submissions",
    "keystage.accounts",
    "keystage.collection",
    "keystage.reports",
    "keystage.checking",
    "keystage.returns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before sessions and sign-in are looked at.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Every response to a signed-in user (pages, exports, redirects) is sent no-store.
    "keystage.accounts.middleware.NoStoreMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A collection's pages have its id first in their path: the request's collection
    # (keystage.web.links), which its links keep to.
    "keystage.web.links.CollectionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A session unused for KEYSTAGE_SESSION_IDLE_MINUTES, or older than SESSION_COOKIE_AGE, ends.
    "keystage.accounts.middleware.SessionTimeoutMiddleware",
    # A body over the upload limit is answered 413 before anything (the CSRF check, a form)
    # reads it; after the user is known, so that the page is drawn in the service's layout.
    "keystage.web.limits.RequestSizeLimitMiddleware",
    # Every page needs a signed-in user unless its view says otherwise (`login_not_required`),
    # admins (and the users their LA asks it of) must finish two-factor sign-in before any page,
    # and a one-time password must be replaced first: new pages are covered unasked.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "keystage.accounts.middleware.TwoFactorRequiredMiddleware",
    "keystage.accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "keystage.web.urls"
# keystage.web.wsgi (for gunicorn) refuses these development settings unless KEYSTAGE_DEBUG=1;
# Django's development server (`keystage serve --dev`) uses Django's own handler instead.
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "keystage.web.jinja2.environment",
            "autoescape": True,
            "context_processors": ["keystage.web.jinja2.page_context"],
        },
    },
]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'keystage.sqlite3'}"
    if url.startswith("sqlite:") and "DATA_DIR" not in url:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
    db = dj_database_url.parse(url, conn_max_age=60)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers work while an import writes; IMMEDIATE takes the write lock at the
        # start of a transaction, so two writers queue instead of failing half-way.
        db["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;",
            "transaction_mode": "IMMEDIATE",
        }
        db["CONN_MAX_AGE"] = 0
    db.setdefault("TEST", {})
    if test_name := os.environ.get("KEYSTAGE_TEST_DB_NAME"):
        db["TEST"]["NAME"] = test_name
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
    }
}

# What the busiest pages compute from an LA's data, kept in each process's memory under a key
# that names the data's stamp (keystage.web.readcache): never stale, nothing shared between
# processes or machines. Entries of up to a few hundred KB each.
PAGE_CACHE_ENTRIES = int(os.environ.get("KEYSTAGE_PAGE_CACHE_ENTRIES", "2000"))

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# GOV.UK Frontend's built files are copied into web/static/govuk by scripts/setup (not committed).
STATICFILES_DIRS = [BASE_DIR / "web" / "static"]
# WhiteNoise serves straight from web/static (read once at start-up), so the demo and a
# deployment need no `collectstatic` step and no STATIC_ROOT.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None

# -- sign-in, sessions and security headers (production tightens these further) -------------
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2id first; the others stay so a hash made by an older setting still verifies (and is
# upgraded to Argon2 at the next sign-in).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    # django-axes refuses sign-in for a locked-out account before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "home"

# django-axes: lock an account after this many wrong passwords in a row, for this long.
# Locking by user name, not by address: behind a proxy every user shares one address.
AXES_FAILURE_LIMIT = int(os.environ.get("KEYSTAGE_SIGN_IN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("KEYSTAGE_SIGN_IN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for a per-address limit too. Behind a proxy the address is the proxy's, and a
# shared LA office network would lock out a whole office: per-address limits belong at the
# proxy, which sees real addresses (docs/adr/0006-sign-in-and-security-headers.md).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # locked for the time said, no longer
AXES_LOCKOUT_CALLABLE = "keystage.accounts.views.locked_out"
AXES_VERBOSE = False

# django-otp: TOTP (authenticator app) codes; the issuer is the name the app shows.
OTP_TOTP_ISSUER = "Keystage"

# A session ends 8 hours after signing in (a working day) whatever happens, and sooner when it
# is not used for KEYSTAGE_SESSION_IDLE_MINUTES (keystage.accounts.middleware).
SESSION_COOKIE_AGE = 8 * 60 * 60
KEYSTAGE_SESSION_IDLE_MINUTES = int(os.environ.get("KEYSTAGE_SESSION_IDLE_MINUTES", "30"))
if KEYSTAGE_SESSION_IDLE_MINUTES < 1:
    raise ValueError("KEYSTAGE_SESSION_IDLE_MINUTES must be 1 or more (minutes)")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "keystage.web.errors.form_refused"  # an old form: the service's 403 page
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): only our own origin; scripts need our nonce or to be
# files we serve. GOV.UK Frontend's one inline line (marking the page `js-enabled`) carries it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# A school that sent fewer pupils than this share of its expected cohort is flagged.
KEYSTAGE_COHORT_SHORTFALL_SHARE = float(os.environ.get("KEYSTAGE_COHORT_SHORTFALL_SHARE", "0.9"))

# Report figures shown outside their school or LA rest on at least this many pupils
# (disclosure control, docs/measures.md).
KEYSTAGE_REPORT_MIN_PUPILS = int(os.environ.get("KEYSTAGE_REPORT_MIN_PUPILS", "6"))

# Years a collection's pupil-level data is kept after the collection closes, for every
# collection: unset, each collection definition's own `[retention]` applies (docs/retention.md).
KEYSTAGE_RETENTION_YEARS = os.environ.get("KEYSTAGE_RETENTION_YEARS", "")

# The collection the product works on unless told otherwise (commands, the paths from before
# there were several collections), and the collections the service offers side by side: each
# has its pages under its id (/ks1-2024/la/938/dashboard), in this order on the home page: the
# statutory collections first (KS1 2023, the phonics checks, the EYFS profile), then the
# optional KS1 years.
KEYSTAGE_COLLECTION = os.environ.get("KEYSTAGE_COLLECTION", "ks1-2023")
DEFAULT_COLLECTIONS = ",".join([
    "ks1-2023", "phonics-2023", "phonics-2024", "phonics-2025",
    "eyfsp-2023", "eyfsp-2024", "eyfsp-2025", "ks1-2024", "ks1-2025",
])  # fmt: skip
KEYSTAGE_COLLECTIONS = [
    c.strip()
    for c in os.environ.get("KEYSTAGE_COLLECTIONS", DEFAULT_COLLECTIONS).split(",")
    if c.strip()
]
if KEYSTAGE_COLLECTION not in KEYSTAGE_COLLECTIONS:
    KEYSTAGE_COLLECTIONS.insert(0, KEYSTAGE_COLLECTION)
# The most a web upload may hold, all files together (a whole LA's files fit in a zip of this).
KEYSTAGE_MAX_UPLOAD_MB = int(os.environ.get("KEYSTAGE_MAX_UPLOAD_MB", "50"))
# The most one file in a zip, and all the files of a zip together, may unpack to: counted on
# the bytes as they are unpacked, whatever the zip declares (docs/limits.md).
KEYSTAGE_MAX_MEMBER_MB = int(os.environ.get("KEYSTAGE_MAX_MEMBER_MB", "100"))
KEYSTAGE_MAX_UNPACKED_MB = int(os.environ.get("KEYSTAGE_MAX_UNPACKED_MB", "2000"))
# How much of a rejected file is kept (its first bytes; its size, SHA-256 and the reason are
# always recorded). An accepted file is always kept whole.
KEYSTAGE_KEEP_REJECTED_BYTES = int(os.environ.get("KEYSTAGE_KEEP_REJECTED_BYTES", "1048576"))
# Django's own limits on a request (web/limits.py refuses a longer body before these apply):
# form fields other than files may hold this much; an uploaded file larger than the memory
# size is written to a temporary file while it arrives; at most this many files a request.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("KEYSTAGE_MAX_UPLOAD_FILES", "100"))

# The task worker (keystage.worker; docs/architecture.md, "When a worker dies"): it beats
# every few seconds; a task whose worker has not beaten for the lease (or whose process is gone)
# is run again, at most this many times in all; bytes and folders no stored row needs are
# reclaimed once untouched for this long; a recount nobody queued is queued after this long.
KEYSTAGE_WORKER_BEAT_SECONDS = float(os.environ.get("KEYSTAGE_WORKER_BEAT_SECONDS", "5"))
KEYSTAGE_WORKER_LEASE_SECONDS = float(os.environ.get("KEYSTAGE_WORKER_LEASE_SECONDS", "30"))
KEYSTAGE_TASK_ATTEMPTS = int(os.environ.get("KEYSTAGE_TASK_ATTEMPTS", "3"))
KEYSTAGE_RECLAIM_AFTER_SECONDS = float(os.environ.get("KEYSTAGE_RECLAIM_AFTER_SECONDS", "600"))
KEYSTAGE_FACTS_DUE_AFTER_SECONDS = float(os.environ.get("KEYSTAGE_FACTS_DUE_AFTER_SECONDS", "300"))

# E-mail (the check loop tells schools and LA officers what happened). The console backend
# prints messages instead of sending them: the demo's default. For real mail set
# KEYSTAGE_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the host settings.
EMAIL_BACKEND = os.environ.get(
    "KEYSTAGE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("KEYSTAGE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("KEYSTAGE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("KEYSTAGE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KEYSTAGE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("KEYSTAGE_EMAIL_TLS", "") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("KEYSTAGE_FROM_EMAIL", "Keystage <keystage@localhost>")
# The site's address as people reach it, for links in e-mails.
KEYSTAGE_SITE_URL = os.environ.get("KEYSTAGE_SITE_URL", "http://localhost:8000").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KEYSTAGE_LOG_LEVEL", "WARNING")},
}
