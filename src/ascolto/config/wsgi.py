import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascolto.config.settings")
application = get_wsgi_application()
# What startup loaded lives as long as the process: kept out of the collector's full passes
# (see config/asgi.py).
gc.freeze()
