"""WSGI entry point for production servers (`keystage serve` runs it under gunicorn).

It refuses to start unless the settings are the production ones
(DJANGO_SETTINGS_MODULE=keystage.web.settings_production, which require a secret key, the host
names and HTTPS) or debug was asked for on purpose (KEYSTAGE_DEBUG=1): the development settings
generate their own secret and allow plain HTTP, which is no way to hold children's data.
Django's development server (`keystage serve --dev`) does not use this module."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

from keystage import server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keystage.web.settings")
if why := server.refusal():
    # An exception, not an exit: gunicorn then stops ("Worker failed to boot") rather than
    # starting the worker again and again.
    raise ImproperlyConfigured(f"Keystage will not start: {why}.")
application = get_wsgi_application()
