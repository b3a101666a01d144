# syntax=docker/dockerfile:1
#
# Arbiter worker image (used by docker-compose.yml; `docker build -t arbiter .` works too).
#   docker run --rm arbiter doctor      # any `arbiter` subcommand; the default is `worker`

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: install all dependencies, compile TypeScript and arbiter-spawn (C) to lib/ ----
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first so the dependency layer is reused until they change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime

# git: workspaces are git checkouts of the target and changes are delivered as branches.
# bubblewrap: the `bwrap` sandbox every agent and gate command runs in (no bwrap -> commands
# are refused, see the README).
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap ca-certificates git \
 && rm -rf /var/lib/apt/lists/*

# Non-root runtime user. Its uid decides who owns files written into bind-mounted repos;
# override with --build-arg ARBITER_UID=$(id -u) to match the host user.
ARG ARBITER_UID=10001
RUN groupadd --gid "${ARBITER_UID}" arbiter \
 && useradd --uid "${ARBITER_UID}" --gid arbiter --create-home --home-dir /home/arbiter \
      --shell /usr/sbin/nologin arbiter \
 && mkdir -p /var/lib/arbiter \
 && chown arbiter:arbiter /var/lib/arbiter \
 && chmod 0750 /var/lib/arbiter

ENV NODE_ENV=production \
    HOME=/home/arbiter \
    ARBITER_HOME=/var/lib/arbiter

WORKDIR /app
# Production dependencies only; the code stays root-owned and read-only to `arbiter`.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/lib ./lib
COPY --from=build /app/bin ./bin
COPY --from=build /app/db/migrations ./db/migrations

USER arbiter
ENTRYPOINT ["node", "bin/arbiter.js"]
CMD ["worker"]
