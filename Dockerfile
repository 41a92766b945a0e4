# socialops HTTP mode in a slim, non-root image. Build: docker build -t socialops .
# Run: docker run -e DATABASE_URL=postgresql://... -e SLACK_BOT_TOKEN=... -e SLACK_SIGNING_SECRET=... -p 3000:3000 socialops
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000 \
    HOST=0.0.0.0

WORKDIR /app

# Install the project first (dependencies change less often than nothing else in this small tree).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin socialops \
    && mkdir -p /app/data && chown socialops /app/data

USER 10001
# SQLite fallback lives in a volume; set DATABASE_URL to PostgreSQL for more than one instance.
ENV XDG_DATA_HOME=/app/data
VOLUME ["/app/data"]
EXPOSE 3000

# /healthz answers 503 when the database or the scheduler is unwell.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

CMD ["socialops", "serve"]
