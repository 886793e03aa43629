# leconnect's container image: one static binary (the daemon, its built-in
# Telegram, Slack and SMS adapters, the emulators and the demo) on
# distroless, as a non-root user. Build from a git checkout:
#
#   docker build -t leconnect \
#     --build-arg VERSION="$(git describe --tags --match 'v*' --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg DATE="$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)" .
#
# Run it with the config in /etc/leconnect (server.listen: 0.0.0.0:8080,
# store.path: /var/lib/leconnect/leconnect.db) and secrets in the
# environment; see docs/operations.md. The binary is built by
# scripts/release.sh, as `make release` builds it (e2e/packaging_test.go
# runs this stage's command and starts its output as this image would).

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=devel
ARG COMMIT=unknown
ARG DATE=1970-01-01T00:00:00Z
RUN TARGETS="$TARGETOS/$TARGETARCH" BINARIES=leconnect DIST=/out VERSION="$VERSION" COMMIT="$COMMIT" DATE="$DATE" bash scripts/release.sh && mv /out/leconnect_* /out/leconnect

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/leconnect /usr/local/bin/leconnect
COPY connector.yaml.example /etc/leconnect/connector.yaml.example
USER 65532:65532
WORKDIR /var/lib/leconnect
VOLUME ["/etc/leconnect", "/var/lib/leconnect"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["/usr/local/bin/leconnect", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/leconnect"]
CMD ["run", "--config", "/etc/leconnect/connector.yaml"]
