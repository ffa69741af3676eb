# modelmon in two images from one file:
#   docker build -t modelmon .                                # the monitoring service, the example
#                                                             # prediction service, the demo and the CLI
#   docker build --target batch -t modelmon-batch .          # the same plus Prefect: the batch flow,
#                                                             # its schedule and the Prefect server
#   docker run --rm -p 8085:8085 -v $PWD/modelmon.yml:/etc/modelmon/modelmon.yml:ro modelmon
# The default command serves the config at /etc/modelmon/modelmon.yml; any other `modelmon` command
# can be given instead (docker run modelmon report --help). See deploy/README.md.
# Both run as uid 10001 and need no write access to their root filesystem (run them with --read-only
# and a tmpfs on /tmp): what they keep goes to /var/lib/modelmon, where volumes belong.

# Dependencies first, so editing the source does not reinstall them.
FROM python:3.11-slim AS dependencies
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# binutils' strip, for slim-venv.sh (this stage only: the images copy the virtualenv alone)
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils > /dev/null \
    && python -m venv /opt/modelmon
WORKDIR /src
COPY pyproject.toml README.md LICENSE deploy/slim-venv.sh deploy/compile-imports.py ./
# SHAP (with numba and llvmlite, 190 MB) is left to the batch image: the service explains a pipeline,
# such as the demo's, without it, and says which extra to install for a tree model on its own.
RUN mkdir -p src/modelmon && echo "__version__ = \"0\"" > src/modelmon/__init__.py \
    && /opt/modelmon/bin/pip install --no-compile ".[service,demo,mongo,postgres]" \
    && /opt/modelmon/bin/pip uninstall --quiet -y modelmon && sh slim-venv.sh /opt/modelmon

FROM dependencies AS batch-dependencies
RUN /opt/modelmon/bin/pip install --no-compile ".[batch,explain]" \
    && /opt/modelmon/bin/pip uninstall --quiet -y modelmon && sh slim-venv.sh /opt/modelmon
# The Prefect UI, copied where the server serves it from: it would otherwise copy it into its own
# package folder at start, which a read-only filesystem refuses (the UI then answers 404). Some of
# its files come out of the wheel readable by their owner only: everyone may read the copy.
RUN PREFECT_HOME=/tmp/prefect PREFECT_UI_STATIC_DIRECTORY=/opt/modelmon/prefect-ui \
    /opt/modelmon/bin/python -c "from prefect.server.api.server import create_ui_app; create_ui_app(False)" \
    && chmod -R a+rX /opt/modelmon/prefect-ui && test -f /opt/modelmon/prefect-ui/v1/index.html

# The source, then pip goes; byte code is written now because at run time nothing can write it: in
# the service image for what its services import (compile-imports.py), in the batch image for all
# (Prefect imports a thousand modules at start), except modules for newer Pythons, never imported.
FROM dependencies AS build
COPY src ./src
RUN /opt/modelmon/bin/pip install --no-compile --no-deps . && /opt/modelmon/bin/pip uninstall --quiet -y pip \
    && /opt/modelmon/bin/python -m compileall -q /opt/modelmon/lib/python3.11/site-packages/modelmon \
    && /opt/modelmon/bin/python compile-imports.py && /opt/modelmon/bin/modelmon --help > /dev/null

FROM batch-dependencies AS batch-build
COPY src ./src
RUN /opt/modelmon/bin/pip install --no-compile --no-deps . && /opt/modelmon/bin/pip uninstall --quiet -y pip \
    && /opt/modelmon/bin/python -m compileall -q -j 0 -x '_typing_31[2-9]\.py$' /opt/modelmon/lib \
    && /opt/modelmon/bin/modelmon --help > /dev/null

FROM python:3.11-slim AS runtime
ENV PATH=/opt/modelmon/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODELMON_DATA_DIR=/var/lib/modelmon/data \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 modelmon \
    && useradd --system --uid 10001 --gid modelmon --home-dir /var/lib/modelmon --create-home modelmon \
    && mkdir -p /data /etc/modelmon /var/lib/modelmon/data /var/lib/modelmon/reports \
        /var/lib/modelmon/prefect /var/lib/modelmon/spool \
    && chown -R modelmon:modelmon /data /var/lib/modelmon
USER modelmon
WORKDIR /var/lib/modelmon
EXPOSE 8085 9696
# Probes the monitoring service; compose overrides it for the other services these images run.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8085/health', timeout=4)"]
ENTRYPOINT ["modelmon"]
CMD ["serve", "--config", "/etc/modelmon/modelmon.yml", "--host", "0.0.0.0", "--port", "8085"]

FROM runtime AS batch
ENV PREFECT_HOME=/tmp/prefect \
    PREFECT_UI_STATIC_DIRECTORY=/opt/modelmon/prefect-ui \
    PREFECT_SERVER_ANALYTICS_ENABLED=false
COPY --from=batch-build /opt/modelmon /opt/modelmon

# The default image (last, so that a plain `docker build` makes it).
FROM runtime AS service
COPY --from=build /opt/modelmon /opt/modelmon
