# One image for the web server, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim

# PYTHONPATH: settings.py finds templates/ and static/ beside the carlit package, so the
# project is imported from /app, not from the copy `pip install .` puts in site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app
RUN groupadd --system carlit && useradd --system --gid carlit --home-dir /app carlit

COPY . .
RUN pip install . && rm -rf build

# collectstatic imports the settings, which refuse to start without a secret when DEBUG
# is off; this placeholder exists only during the build, the real one comes at run time.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=placeholder-used-only-by-collectstatic-at-build \
    python manage.py collectstatic --noinput

USER carlit
EXPOSE 8000

# --timeout 120: a sync worker sends a whole streamed export before it reports back;
# BibTeX of every publication at 100,000 studies takes about half a minute.
CMD ["gunicorn", "carlit.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120", "--access-logfile", "-"]
