# modelmon: the monitoring service, the example prediction service, the batch flow and the CLI.
#   docker build -t modelmon .
#   docker run --rm -p 8085:8085 -v $PWD/modelmon.yml:/etc/modelmon/modelmon.yml:ro modelmon
# The default command serves the config at /etc/modelmon/modelmon.yml; any other `modelmon` command
# can be given instead (docker run modelmon report --help). See deploy/README.md.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/modelmon
WORKDIR /src
# Dependencies first, so editing the source does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p src/modelmon && touch src/modelmon/__init__.py \
    && /opt/modelmon/bin/pip install ".[service,demo,batch,mongo,postgres,explain]" \
    && /opt/modelmon/bin/pip uninstall -y modelmon
COPY src ./src
RUN /opt/modelmon/bin/pip install --no-deps . && /opt/modelmon/bin/modelmon --help > /dev/null

FROM python:3.11-slim
ENV PATH=/opt/modelmon/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 modelmon \
    && useradd --system --uid 10001 --gid modelmon --home-dir /var/lib/modelmon --create-home modelmon \
    && mkdir -p /data /etc/modelmon /var/lib/modelmon/reports /var/lib/modelmon/prefect /var/lib/modelmon/spool \
    && chown -R modelmon:modelmon /data /var/lib/modelmon
COPY --from=build /opt/modelmon /opt/modelmon
USER modelmon
WORKDIR /var/lib/modelmon
EXPOSE 8085 9696
# Probes the monitoring service; compose overrides it for the other services this image runs.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8085/health', timeout=4)"]
ENTRYPOINT ["modelmon"]
CMD ["serve", "--config", "/etc/modelmon/modelmon.yml", "--host", "0.0.0.0", "--port", "8085"]
