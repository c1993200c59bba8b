# wamux: WhatsApp multi-instance API. Data (SQLite file, device stores) lives in /data.
# Debian 12 (glibc 2.36): neonize's Go library needs glibc >= 2.34 and has no musl build.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 PORT=3000 DATA_DIR=/data PUBLIC_DIR=/app/public

# libmagic1: neonize detects media types with python-magic; ffmpeg (with ffprobe): neonize
# probes and converts audio and video before sending them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY adapters ./adapters
COPY api ./api
COPY graphql_schema ./graphql_schema
COPY rest_compat ./rest_compat
COPY migrations ./migrations
COPY public ./public
RUN pip install --no-cache-dir . \
    && useradd --system --home /data wamux && mkdir -p /data && chown wamux /data

USER wamux
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os;urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
CMD ["wamux", "serve"]
