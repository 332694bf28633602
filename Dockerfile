# Invoke in a container: the single binary on a small Debian, run as a non-root user.
#   docker build -t invoke .
#   docker run -d -p 8787:8787 -v invoke-data:/var/lib/invoke --name invoke invoke
#   docker logs invoke    # the admin key, printed once on the first start
# Settings come from INVOKE_* variables or a mounted config (-v ./invoke.yaml:/etc/invoke/invoke.yaml:ro
# -e INVOKE_CONFIG=/etc/invoke/invoke.yaml); behind a reverse proxy, list it in trusted_proxies.

# Stage 1: build. Bun comes from the npm registry as a dev dependency (package.json), so Node is the only base.
FROM node:22-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=warn
# The sources import beyond src/ (the migrations in drizzle/, package.json): copy the tree (.dockerignore trims it).
COPY . .
RUN npm run build && ./dist/invoke version

# Stage 2: run. glibc (the linux-x64 build needs it) and tini, nothing else: no shell tools, no runtime.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 invoke \
 && useradd --system --uid 10001 --gid invoke --home-dir /var/lib/invoke --shell /usr/sbin/nologin invoke \
 && install -d -o invoke -g invoke -m 0700 /var/lib/invoke
COPY --from=build /src/dist/invoke /usr/local/bin/invoke
USER invoke
WORKDIR /var/lib/invoke
ENV INVOKE_HOST=0.0.0.0 \
    INVOKE_PORT=8787 \
    INVOKE_DB=/var/lib/invoke/invoke.db
# The database, its key file and the checkpoint log: keep them on a volume.
VOLUME ["/var/lib/invoke"]
EXPOSE 8787
# tini is PID 1: it forwards SIGTERM to invoke and reaps the children that stdio connectors leave behind.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/invoke"]
CMD ["serve"]
# The image has no curl: bash's /dev/tcp asks GET /healthz over plain HTTP. With TLS on in the container,
# replace this (e.g. --health-cmd) or terminate TLS at the proxy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${INVOKE_PORT:-8787} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
