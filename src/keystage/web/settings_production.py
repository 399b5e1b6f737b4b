"""Production settings: the base settings, with debug off, HTTPS everywhere and nothing
generated. `KEYSTAGE_SECRET_KEY` and `KEYSTAGE_ALLOWED_HOSTS` must be set."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

for _name in ("KEYSTAGE_SECRET_KEY", "KEYSTAGE_ALLOWED_HOSTS"):
    if not os.environ.get(_name, "").strip():
        raise ImproperlyConfigured(f"{_name} must be set for production settings")

from keystage.web.settings import *  # noqa: E402, F403
from keystage.web.settings import CONTENT_SECURITY_POLICY  # noqa: E402

DEBUG = False
# What keystage.web.wsgi looks for before it starts (keystage.server.refusal): settings that
# build on these may serve children's data.
KEYSTAGE_PRODUCTION = True
WSGI_APPLICATION = "keystage.web.wsgi.application"
SECRET_KEY = os.environ["KEYSTAGE_SECRET_KEY"]
ALLOWED_HOSTS = [h.strip() for h in os.environ["KEYSTAGE_ALLOWED_HOSTS"].split(",") if h.strip()]

SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
if os.environ.get("KEYSTAGE_TLS_PROXY", "") == "1":
    # TLS ends at a proxy in front of Keystage that sets X-Forwarded-Proto (and strips it from
    # what clients send): without this every request would look like plain HTTP.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    **CONTENT_SECURITY_POLICY,
    "DIRECTIVES": {**CONTENT_SECURITY_POLICY["DIRECTIVES"], "upgrade-insecure-requests": True},
}
