#!/usr/bin/env bash
# Builds the pipeline image from kubeflow/Dockerfile:
#
#   scripts/image.sh                 # tfx-text-pipeline:latest
#   IMAGE=NAME:TAG BASE=official scripts/image.sh
#
# Engine: docker where its daemon answers, else podman (kubeflow/containers.conf).
# BASE picks the Dockerfile's base image:
#   official  python:3.13-slim-trixie from Docker Hub (needs a registry);
#   userland  a base imported once from the Debian 13 userland that scripts/env.sh
#             builds (its operating system only; the Python stack is installed by the
#             Dockerfile as on the official base). Works with no registry.
#   auto      (default) userland where this host needs that userland (glibc < 2.39),
#             official elsewhere.
# pip reaches the package index during the build (--network host); downloads are kept
# in a build cache, and unchanged layers are reused.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-tfx-text-pipeline:latest}"
BASE="${BASE:-auto}"
LOCAL_BASE="localhost/tfx-text-pipeline-base:trixie"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO/kubeflow/containers.conf}"

log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

engine() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then echo docker
  elif command -v podman >/dev/null; then echo podman
  else die "no container engine: install podman (Debian: apt-get install podman runc) or docker"
  fi
}
ENGINE="${ENGINE:-$(engine)}"

if [ "$BASE" = auto ]; then
  if [ "$("$REPO/scripts/env.sh" mode)" = rootfs ]; then BASE=userland; else BASE=official; fi
fi
build_args=()
case "$BASE" in
  official) ;;
  userland)
    if ! $ENGINE image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
      "$REPO/scripts/env.sh" setup
      rootfs="$("$REPO/scripts/env.sh" rootfs-path)"
      log "importing $LOCAL_BASE from $rootfs (its operating system; not its venv)"
      tar -C "$rootfs" --exclude=./opt/venv --exclude=./root/.cache --exclude='./tmp/*' \
          --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' -c . \
        | $ENGINE import - "$LOCAL_BASE" >/dev/null
    fi
    build_args+=(--build-arg "BASE_IMAGE=$LOCAL_BASE") ;;
  *) die "BASE must be auto, official or userland (got '$BASE')" ;;
esac

log "building $IMAGE with $ENGINE (base: $BASE)"
start=$(date +%s)
$ENGINE build --network host "${build_args[@]}" -f "$REPO/kubeflow/Dockerfile" -t "$IMAGE" "$REPO"
log "built $IMAGE in $(( $(date +%s) - start )) s; size: $($ENGINE image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.2f GB", $1/1e9}')"
