#!/usr/bin/env bash
# make test-kubeflow: the compiled spec run task by task in the pipeline image
# (tests/test_kubeflow_container.py), and the image as Beam's SDK worker pool
# (tests/test_worker_pool_container.py). It runs on the host, where podman or docker is,
# with the host's python3 and a small venv that holds pytest only; the spec itself is
# compiled inside the project's environment (scripts/env.sh).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$("$REPO/scripts/env.sh" cache)/host-test-venv"
PYTEST="$(grep -oE '^pytest==[^ ]+' "$REPO/requirements/lock.txt")"
[ -f "$VENV/.stamp-$PYTEST" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "$PYTEST" && touch "$VENV/.stamp-$PYTEST"; }
cd "$REPO"
PYTHONPATH="$REPO" exec "$VENV/bin/python" -m pytest --noconftest -p no:cacheprovider tests/test_kubeflow_container.py tests/test_worker_pool_container.py "$@"
