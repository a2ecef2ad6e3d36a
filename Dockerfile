# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY coe ./coe
COPY incidents ./incidents
RUN pip install .

COPY . .
# collectstatic needs settings; these values exist only for this build step (nothing connects to
# that database: the image has no embedded PostgreSQL, and the containers are given DATABASE_URL).
RUN SECRET_KEY=collectstatic-only DEBUG=false DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 app
USER app
# Uploaded import files: a volume the web app and the worker share (docker-compose.yml), owned by app.
RUN mkdir -p /home/app/uploads
EXPOSE 8000
CMD ["gunicorn", "coe.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
