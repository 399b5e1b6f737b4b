"""WSGI entry point for production servers (`keystage serve` runs it under gunicorn).

It refuses to start unless the settings are the production ones
(DJANGO_SETTINGS_MODULE=keystage.web.settings_production, which require a secret key, the host
names and HTTPS) or debug was asked for on purpose (KEYSTAGE_DEBUG=1): the development settings
generate their own secret and allow plain HTTP, which is no way to hold children's data.
Django's development server (`keystage serve --dev`) does not use this module."""

import gc
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

# Python's cycle collector, tuned for a web process: by default it runs every 700 allocations
# and now and then walks every object the process holds (the code, the pages' cache), which cost
# the pupil grid and Data Errors about 30 ms a page. What is loaded by now is set aside for
# good (gc.freeze), and collections come every 50,000 allocations: a page makes no cycles worth
# collecting sooner (docs/performance.md, "Web load").
gc.freeze()
gc.set_threshold(50_000, 50, 100)
