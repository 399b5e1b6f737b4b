"""Django settings, from the environment.

`DATABASE_URL` chooses the database: an SQLite file under the data directory by default
(the embedded default), `postgresql://...` in production. `KEYSTAGE_DATA_DIR` holds the SQLite
file, kept copies of uploaded files and the generated secret key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("KEYSTAGE_DATA_DIR", Path.cwd() / "var")).resolve()
UPLOAD_STORE = DATA_DIR / "uploads"


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
    "django_tasks",
    "django_tasks_db",
    "keystage.audit",
    "keystage.orgs",
    "keystage.submissions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "keystage.web.urls"
WSGI_APPLICATION = "keystage.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"autoescape": True},
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

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"

# The collection the product works on unless told otherwise.
KEYSTAGE_COLLECTION = os.environ.get("KEYSTAGE_COLLECTION", "ks1-2023")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KEYSTAGE_LOG_LEVEL", "WARNING")},
}
