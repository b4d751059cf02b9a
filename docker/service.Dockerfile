# One image per service, built by Pants from that service's PEX (see docker/BUILD).
#
# Two build stages unpack the PEX into a venv: one the third-party code, one the
# project's code. The runtime stage copies them in that order, so a code change
# changes only the small last layer, and containers start without unzipping.

# Any Python 3.11 on glibc: the official slim image, or the one
# docker/build-base-images makes from Debian packages where no registry is reachable.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS deps
ARG PEX
COPY ${PEX} /tmp/service.pex
# Hash-based bytecode and fixed timestamps make this layer byte-identical whenever the
# dependencies are, so a code change leaves it (and its digest in a registry) untouched.
RUN PEX_TOOLS=1 python3 /tmp/service.pex venv --scope=deps /app \
    && python3 -m compileall -q --invalidation-mode unchecked-hash /app/lib \
    && find /app -exec touch --no-dereference --date=@0 {} +

FROM ${BASE_IMAGE} AS srcs
ARG PEX
COPY ${PEX} /tmp/service.pex
RUN PEX_TOOLS=1 python3 /tmp/service.pex venv --scope=srcs /app \
    && python3 -m compileall -q --invalidation-mode unchecked-hash /app/lib

FROM ${BASE_IMAGE}
# /data holds the log store; a named volume mounted there inherits this owner.
RUN mkdir -p /data && chown 10001:10001 /data
COPY --from=deps /app /app
COPY --from=srcs /app /app
ENV PATH=/app/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_STORE_PATH=/data/log-store.sqlite3
USER 10001:10001
# The service runs as PID 1 (exec form, no shell): SIGTERM reaches Nameko's handler,
# which stops taking work, lets running workers finish, and exits.
ENTRYPOINT ["/app/pex"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/app/pex", "healthcheck"]
