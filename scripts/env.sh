#!/usr/bin/env bash
# Builds and enters the Python environment that runs the TFX stack.
#
#   scripts/env.sh setup          build (or reuse) the environment
#   scripts/env.sh browser        add headless Chromium (only the report's page test needs it)
#   scripts/env.sh run CMD ARGS   run CMD inside it, from the repository root
#   scripts/env.sh cache          print the cache folder (other scripts keep their venvs there)
#
# TFX 1.21's ml-metadata / TFDV wheels need glibc >= 2.39. On such a host this is a
# plain venv. On an older host (Debian 12 has 2.36) it is a Debian 13 (trixie)
# userland built with debootstrap, entered with private mounts (unshare -m), so
# nothing stays mounted after a command ends. Both live in the cache folder
# $TFX_TEXT_CACHE (default ~/.cache/tfx-text-pipeline) and are reused: a second
# setup only checks stamps and takes seconds. The environment is shared by every
# checkout on the machine, so the project is not installed into it: `run` puts the
# checkout it was called from on PYTHONPATH (Beam workers and the tfx CLI inherit it).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TFX_TEXT_CACHE:-$HOME/.cache/tfx-text-pipeline}"
ROOTFS="$CACHE/rootfs-trixie"
LOCK="$REPO/requirements/lock.txt"
PINS="$REPO/requirements/pins.txt"
# Packages installed without their declared dependencies (requirements/nodeps.txt says why).
NODEPS="$(grep -v '^#' "$REPO/requirements/nodeps.txt" | xargs)"  # one line, as the lock hash has always read it
BROWSER_PACKAGES="chromium fonts-dejavu-core"
UV_VERSION="0.13.9"   # installs the locked wheels in parallel; pip is the fallback
# Where ../shared lives (the full IMDB archive); bound into the userland when present.
SHARED="$(cd "$REPO/.." && pwd)/shared"

log() { printf '[env] %s\n' "$*" >&2; }
die() { printf '[env] error: %s\n' "$*" >&2; exit 1; }

glibc_ok() {
  local v; v="$(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$' || echo 0.0)"
  [ "$(printf '%s\n2.39\n' "$v" | sort -V | head -1)" = "2.39" ]
}

mode() {
  case "${TFX_TEXT_ENV:-auto}" in
    venv|rootfs) echo "$TFX_TEXT_ENV" ;;
    auto) if glibc_ok; then echo venv; else echo rootfs; fi ;;
    *) die "TFX_TEXT_ENV must be auto, venv or rootfs (got '$TFX_TEXT_ENV')" ;;
  esac
}

lock_hash() { { cat "$PINS" "$LOCK" 2>/dev/null; echo "$NODEPS"; } | sha256sum | cut -c1-16; }

# --- pip inside whichever python the mode uses --------------------------------
pip_install_script() {
  # Printed, then run by the target python's shell (host or userland). Progress lines go
  # to stderr; pip's and uv's own output to $2, shown only when a step fails.
  local venv="$1" out="$2"
  cat <<SH
set -euo pipefail
cd "$REPO"
say() { printf '[env]   %s\\n' "\$1" >&2; }
logged() { "\$@" >>"$out" 2>&1; }
step() { say "\$1"; shift; logged "\$@" || { tail -25 "$out" >&2; echo "[env] error: that step failed; the whole log: $out" >&2; exit 1; }; }
: >"$out"
[ -x "$venv/bin/python" ] || step "creating the venv" python3 -m venv "$venv"
step "pip, setuptools, wheel, uv $UV_VERSION" "$venv/bin/pip" install -q --progress-bar off --upgrade 'pip<27' 'setuptools<81' wheel 'uv==$UV_VERSION'
if [ -s requirements/lock.txt ]; then
  say "$(grep -c '==' "$LOCK") locked packages (uv, in parallel)"
  if ! logged "$venv/bin/uv" pip install --python "$venv/bin/python" --no-deps -r requirements/lock.txt; then
    step "uv failed (see $out); the same with pip" "$venv/bin/pip" install -q --progress-bar off --no-deps -r requirements/lock.txt
  fi
else
  step "requirements/pins.txt (no lock)" "$venv/bin/pip" install -q --progress-bar off -r requirements/pins.txt
fi
step "without their declared dependencies: $NODEPS" "$venv/bin/pip" install -q --progress-bar off --no-deps $NODEPS
SH
}

# --- venv mode -----------------------------------------------------------------
VENV_HOST="$CACHE/venv"

setup_venv() {
  local stamp="$VENV_HOST/.stamp-$(lock_hash)"
  if [ -f "$stamp" ]; then log "venv up to date: $VENV_HOST"; return; fi
  mkdir -p "$CACHE"
  log "building venv at $VENV_HOST (a minute or two the first time)"
  PIP_CONSTRAINT= bash -c "$(pip_install_script "$VENV_HOST" "$CACHE/pip.log")"
  rm -f "$VENV_HOST"/.stamp-*; touch "$stamp"
}

browser_venv() {
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing chromium (for the report's page test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $BROWSER_PACKAGES >/dev/null
  else
    log "warning: no chromium found; install it (Debian: apt-get install $BROWSER_PACKAGES) for the report's page test"
  fi
}

run_venv() {
  cd "$REPO"
  export TF_USE_LEGACY_KERAS=1 PATH="$VENV_HOST/bin:$PATH" VIRTUAL_ENV="$VENV_HOST" PYTHONPATH="$REPO"
  exec "$@"
}

# --- rootfs mode ---------------------------------------------------------------
VENV_IN="/opt/venv"

need_root() { [ "$(id -u)" = 0 ] || die "building/entering the Debian 13 userland needs root (unshare, chroot); on a host with glibc >= 2.39 use TFX_TEXT_ENV=venv"; }

# Host folders the userland sees at the same paths: every top-level folder that is not
# part of the operating system (/home, /root, /tmp, /work, /mnt, /srv, ...), so a
# checkout, a user's data or a pytest temporary folder anywhere outside the system
# folders means the same path inside. Recursive binds keep disks mounted below them.
SYSTEM_DIRS=" bin boot dev etc lib lib32 lib64 libx32 sbin usr var opt proc sys run lost+found old_root "

host_dirs() {
  local d name
  for d in /*/; do
    name="${d#/}"; name="${name%/}"
    [ -L "/$name" ] && continue
    case "$SYSTEM_DIRS" in *" $name "*) continue ;; esac
    printf '%s\n' "/$name"
  done
}

under_host_dir() {
  local d
  while IFS= read -r d; do case "$1/" in "$d"/*) return 0 ;; esac; done < <(host_dirs)
  return 1
}

# Run a shell command inside the userland with private mounts. Mount points are made
# inside the new namespace, after the folders above them are mounted, so no later mount
# hides them.
in_rootfs() {
  local cmd="$1" binds="" d
  while IFS= read -r d; do
    binds="$binds mkdir -p '$ROOTFS$d' && mount --rbind '$d' '$ROOTFS$d' &&"
  done < <(host_dirs)
  # The checkout and ../shared when they lie under a system folder (/opt/src, say).
  for d in "$REPO" "$SHARED"; do
    [ -d "$d" ] && ! under_host_dir "$d" && binds="$binds mkdir -p '$ROOTFS$d' && mount --bind '$d' '$ROOTFS$d' &&"
  done
  # Extra binds from TFX_TEXT_BINDS="a:b" (folders under system paths, e.g. /var/data).
  local extra; IFS=: read -ra extra <<<"${TFX_TEXT_BINDS:-}"
  for d in "${extra[@]}"; do
    [ -n "$d" ] && [ -d "$d" ] || continue
    binds="$binds mkdir -p '$ROOTFS$d' && mount --rbind '$d' '$ROOTFS$d' &&"
  done
  # Python caches compiled bytecode (no PYTHONDONTWRITEBYTECODE): uv installs without
  # it, so with the cache off every process compiled TF, TFX and Beam from source again,
  # 33 s instead of 12 s to import TextExampleGen's executor (each Beam worker, each CLI).
  unshare -m --propagation private sh -c "
    mount -t proc proc '$ROOTFS/proc' &&
    mount --rbind /dev '$ROOTFS/dev' &&
    mount -t sysfs sys '$ROOTFS/sys' &&
    $binds
    exec chroot '$ROOTFS' /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=\"\${TERM:-dumb}\" \
      PATH=$VENV_IN/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      VIRTUAL_ENV=$VENV_IN PYTHONPATH='$REPO' TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=\"\${TF_CPP_MIN_LOG_LEVEL:-2}\" \
      TFX_TEXT_CACHE=\"\${TFX_TEXT_CACHE:-}\" TFX_TEXT_USERLAND=1 CI=\"\${CI:-}\" PYTHONUNBUFFERED=1 \
      PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
      /bin/bash -c \"\$0\" " "$cmd"
}

setup_rootfs() {
  need_root
  if [ ! -f "$ROOTFS/.stamp-base" ]; then
    log "building a Debian 13 userland at $ROOTFS (host glibc < 2.39; about a minute, once)"
    if ! command -v debootstrap >/dev/null; then
      log "installing debootstrap on the host"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    # A half-built tree from an interrupted run is removed first; no mounts can be
    # left in it because every entry uses a private mount namespace.
    if [ -d "$ROOTFS" ]; then
      grep -q " $ROOTFS" /proc/mounts && die "$ROOTFS has something mounted; refusing to remove it"
      rm -rf "$ROOTFS"
    fi
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python3-dev,g++,ca-certificates,git \
      trixie "$ROOTFS" >"$CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $CACHE/debootstrap.log"
    touch "$ROOTFS/.stamp-base"
  fi
  # The registries are reached through the host's CA bundle and resolver.
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
  # This host's name resolves inside as outside: Beam's portable workers are told to call
  # back the job service at socket.getfqdn().
  cp -L /etc/hosts "$ROOTFS/etc/hosts" 2>/dev/null || true
  local stamp="$ROOTFS$VENV_IN/.stamp-$(lock_hash)"
  if [ -f "$stamp" ]; then log "userland venv up to date: $ROOTFS$VENV_IN"; return; fi
  log "installing the Python stack into $ROOTFS$VENV_IN (a minute or two, once)"
  # The log lies in the userland, whose /var/log every mode can write.
  in_rootfs "export PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt UV_NATIVE_TLS=1 UV_NO_PROGRESS=1 UV_CACHE_DIR=/var/cache/uv UV_LINK_MODE=hardlink; $(pip_install_script "$VENV_IN" /var/log/tfx-text-pip.log)" \
    || die "installing the Python stack failed (log: $ROOTFS/var/log/tfx-text-pip.log)"
  rm -f "$ROOTFS$VENV_IN"/.stamp-*; touch "$stamp"
}

# Headless Chromium for the report's page test: only `make test` asks for it.
browser_rootfs() {
  need_root
  [ -f "$ROOTFS/.stamp-browser" ] && return
  log "installing chromium into the userland (for the report's page test; once)"
  in_rootfs "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $BROWSER_PACKAGES >/dev/null" \
    || die "installing $BROWSER_PACKAGES into the userland failed"
  touch "$ROOTFS/.stamp-browser"
}

run_rootfs() {
  need_root
  local q; q="cd '$REPO' && exec$(printf ' %q' "$@")"
  in_rootfs "$q"
}

# --- main ----------------------------------------------------------------------
cmd="${1:-}"; shift || true
m="$(mode)"
case "$cmd" in
  setup) "setup_$m" ;;
  browser) "setup_$m"; "browser_$m" ;;
  run)   [ $# -gt 0 ] || die "usage: scripts/env.sh run CMD [ARGS...]"; "run_$m" "$@" ;;
  where) if [ "$m" = venv ]; then echo "$VENV_HOST"; else echo "$ROOTFS$VENV_IN"; fi ;;
  mode)  echo "$m" ;;
  cache) echo "$CACHE" ;;
  rootfs-path) echo "$ROOTFS" ;;  # scripts/image.sh imports its operating system as a base image
  *) die "usage: scripts/env.sh {setup|browser|run CMD...|where|mode|cache|rootfs-path}" ;;
esac
