# wamux: WhatsApp multi-instance API. Data (SQLite file, device stores) lives in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 PORT=3000 DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY adapters ./adapters
COPY api ./api
COPY graphql_schema ./graphql_schema
COPY rest_compat ./rest_compat
COPY migrations ./migrations
RUN pip install --no-cache-dir . \
    && useradd --system --home /data wamux && mkdir -p /data && chown wamux /data

USER wamux
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os;urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
CMD ["wamux", "serve"]
