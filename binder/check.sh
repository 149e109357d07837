#!/usr/bin/env bash
# Build the Binder environment the way repo2docker does, in a fresh virtual environment, and
# check that it is a working kit: `pip install -r binder/requirements.txt` from the repository
# root, then binder/postBuild, then import labkit and run notebook 00 under nbval.
#
#   bash binder/check.sh            # in a new temporary folder (deleted at the end)
#   bash binder/check.sh DIR        # in DIR (kept), e.g. to look around afterwards
#
# Binder uses the Python version in binder/runtime.txt; run this with that python3 on the PATH.
# It prints the peak memory of the notebook run next to Binder's 2 GB limit.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
    VENV="$1"
else
    TMP="$(mktemp -d)"
    trap 'rm -rf "$TMP"' EXIT
    VENV="$TMP/venv"
fi
want="$(sed -n 's/^python-//p' binder/runtime.txt)"
have="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
[ "$want" = "$have" ] || echo "note: Binder uses Python $want; this check runs $have"

# Where binder/requirements.txt's extra index (PyTorch's CPU wheels) cannot be reached, pip would
# retry it for every package; fail fast there instead, and take torch from the other indexes.
index_host="$(sed -n 's|^--extra-index-url https://\([^/]*\)/.*|\1|p' binder/requirements.txt)"
if [ -n "$index_host" ] && ! python3 -c "import socket, sys; socket.getaddrinfo(sys.argv[1], 443)" "$index_host" 2> /dev/null; then
    echo "note: $index_host is unreachable here; torch comes from the other package indexes"
    export PIP_RETRIES=0
fi

python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
echo "installing binder/requirements.txt into a fresh $VENV ..."
"$PY" -m pip install --quiet -r binder/requirements.txt
PATH="$VENV/bin:$PATH" bash binder/postBuild
"$PY" - <<'PY'
import ipywidgets, jupyterlab, torch
import labkit
print(f"labkit {labkit.__version__}, torch {torch.__version__}, "
      f"jupyterlab {jupyterlab.__version__}, ipywidgets {ipywidgets.__version__}")
PY
# The check's own tools (not part of Binder's image):
"$PY" -m pip install --quiet "nbval>=0.11" pytest
/usr/bin/env OMP_NUM_THREADS=1 LABKIT_FAST=1 "$PY" - <<'PY'
import resource, subprocess, sys
rc = subprocess.call([sys.executable, "-m", "pytest", "notebooks/00_setup.ipynb", "--nbval-lax",
                      "--nbval-current-env", "-p", "no:cacheprovider", "-q"])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"notebook 00 under nbval in the Binder environment: exit {rc}; "
      f"peak memory of the largest process {peak:.0f} MiB (Binder's limit: 2048 MiB)")
sys.exit(rc)
PY
