#!/usr/bin/env bash
# Builds leconnect's release binaries into $DIST with SHA256SUMS: static
# (CGO_ENABLED=0), reproducible (-trimpath, no build id, no VCS lookup, the
# build date is the commit's), stamped with version, commit and date.
# `make release` runs it; every knob has a default:
#   VERSION   the version to stamp  (git describe --tags --match 'v*' --always --dirty)
#   COMMIT    the full revision      (git rev-parse HEAD)
#   DATE      RFC 3339, UTC          (the commit's time, so two builds agree)
#   TARGETS   GOOS/GOARCH pairs      (linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
#   BINARIES  which commands         (leconnect leconnect-telegram leconnect-slack leconnect-sms)
#   DIST      output directory       (dist)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --match 'v*' --always --dirty)}
COMMIT=${COMMIT:-$(git rev-parse HEAD)}
DATE=${DATE:-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)}
TARGETS=${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
BINARIES=${BINARIES:-leconnect leconnect-telegram leconnect-slack leconnect-sms}
DIST=${DIST:-dist}

pkg=github.com/leconnect/leconnect/core/buildinfo
ldflags="-s -w -buildid= -X $pkg.version=$VERSION -X $pkg.commit=$COMMIT -X $pkg.date=$DATE"

source_of() {
  case $1 in
    leconnect) echo ./core/cmd/leconnect ;;
    leconnect-*) echo "./plugins/${1#leconnect-}/cmd/$1" ;;
    *) echo "release: unknown binary $1" >&2; exit 2 ;;
  esac
}

mkdir -p "$DIST"
names=()
for target in $TARGETS; do
  goos=${target%/*} goarch=${target#*/}
  for bin in $BINARIES; do
    name="${bin}_${VERSION}_${goos}_${goarch}"
    echo "release: $name"
    CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOFLAGS=-buildvcs=false \
      go build -trimpath -ldflags "$ldflags" -o "$DIST/$name" "$(source_of "$bin")"
    names+=("$name")
  done
done
(cd "$DIST" && sha256sum "${names[@]}" > SHA256SUMS)
echo "release: $DIST/SHA256SUMS"
