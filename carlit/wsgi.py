import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carlit.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, their modules) stays for the life of the
# process: taken out of the collector's generations, it is no longer walked by every
# full collection that requests trigger (several milliseconds a page otherwise).
gc.freeze()
