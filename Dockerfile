# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# the runtime set only: test and development tools (requirements-dev.txt) stay out of the image
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# static files (admin, Swagger UI from drf-spectacular-sidecar) are served by whitenoise
RUN python manage.py collectstatic --noinput -v 0 \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /app/media \
    && chown -R app /app/media

USER app
EXPOSE 8000
CMD ["gunicorn", "contacts_project.wsgi:application", "--bind", "0.0.0.0:8000", \
     "-c", "python:contacts_project.gunicorn_conf"]
