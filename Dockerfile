# followup as a container: slim, non-root, the app installed from the lock.
#   docker build -t followup .
#   docker run --env-file .env -v followup-data:/data -p 9108:9108 followup
# The image runs `followup run`; migrations run at start (and with `followup db upgrade`).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/followup \
 && /opt/followup/bin/pip install --no-deps -r requirements.lock
# The source (what .dockerignore leaves: no .venv, tests, benches or local state).
COPY . .
RUN /opt/followup/bin/pip install --no-deps .

FROM python:3.11-slim
ENV PATH=/opt/followup/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/followup.db \
    OUTBOX_DIR=/data/outbox \
    FOLLOWUP_CONFIG=/config/followup.toml \
    PIPELINE_FILE=/app/examples/pipeline.json \
    HEALTH_PORT=9108
RUN groupadd --system --gid 10001 followup \
 && useradd --system --uid 10001 --gid followup --home-dir /data --shell /usr/sbin/nologin followup \
 && mkdir -p /data /config && chown followup:followup /data
COPY --from=build /opt/followup /opt/followup
COPY --from=build /src/examples /app/examples
WORKDIR /data
USER followup
EXPOSE 9108 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)" || exit 1
ENTRYPOINT ["followup"]
CMD ["run"]
