# syntax=docker/dockerfile:1
# lassoboot: one image for both roles (the entrypoint is the lassoboot binary).
#
#   docker build -t lassoboot .
#   docker volume create lassoboot-db
#   docker run -d --name lb-coord -p 127.0.0.1:8080:8080 -v lassoboot-db:/var/lib/lassoboot \
#       -e LASSOBOOT_TOKEN lassoboot coordinator --host 0.0.0.0 --port 8080 --db /var/lib/lassoboot/lassoboot.db
#   docker run -d -e LASSOBOOT_TOKEN lassoboot worker --coordinator http://COORDINATOR:8080
#
# The build stage runs scripts/release.sh, the same script as a build outside Docker
# (swift build -c release --static-swift-stdlib); the runtime stage is Debian slim with only the
# shared libraries that binary still needs (see README.md, "Release binary"). deploy/README.md
# has compose, Kubernetes, Slurm and systemd set-ups.

ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
# BINARY=build compiles lassoboot in the image (the usual `docker build .`); BINARY=prebuilt
# packs a dist/lassoboot already built by scripts/release.sh (scripts/image-test.sh, with a
# context holding dist/lassoboot: .dockerignore keeps dist/ out of the usual one).
ARG BINARY=build

FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
# Dependencies in their own layer: a source change does not fetch them again. Package.resolved
# pins them, so the image builds the same versions as every other build.
COPY Package.swift Package.resolved ./
RUN swift package --scratch-path .build-release resolve
COPY . .
# The image has no .git: `lassoboot --version` names this commit
# (docker build --build-arg LASSOBOOT_COMMIT=$(git rev-parse --short=12 HEAD) .), else "unknown".
ARG LASSOBOOT_COMMIT=unknown
RUN bash scripts/release.sh /out && /out/lassoboot --version

FROM scratch AS prebuilt
COPY dist/lassoboot /out/lassoboot

# hadolint ignore=DL3006
FROM ${BINARY} AS binary

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="lassoboot" \
      org.opencontainers.image.description="L1 logistic regression with bootstrap confidence intervals: coordinator and worker"
# Runtime libraries only (the static-stdlib binary's NEEDED entries; SQLite and zlib are linked
# in): libstdc++ and libgcc_s (glibc is in the base image); CA certificates for https coordinators. Versions come from the base image's Debian release, not pinned one by one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libstdc++6 libgcc-s1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lassoboot \
    && useradd --system --uid 10001 --gid lassoboot --home-dir /var/lib/lassoboot --no-create-home \
        --shell /usr/sbin/nologin lassoboot \
    && install -d -o lassoboot -g lassoboot -m 0700 /var/lib/lassoboot
COPY --from=binary /out/lassoboot /usr/local/bin/lassoboot
COPY deploy/docker/lassoboot-healthcheck /usr/local/bin/lassoboot-healthcheck
# Non-root; the coordinator's database lives in the volume (a new named volume takes this
# directory's owner, 10001).
USER 10001:10001
WORKDIR /var/lib/lassoboot
VOLUME ["/var/lib/lassoboot"]
EXPOSE 8080
# Coordinator: GET /healthz on its own port; worker: its coordinator's /healthz
# (deploy/docker/lassoboot-healthcheck reads the role from the main process's arguments).
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/lassoboot-healthcheck"]
# SIGTERM: the coordinator shuts down gracefully, a worker drains (finishes the tasks in hand).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/lassoboot"]
CMD ["--help"]
