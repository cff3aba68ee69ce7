#!/usr/bin/env bash
# Create the virtualenv of the peer LTI platform and install its pinned requirements.
#
# Usage: tests/peer/setup.sh [VENV_DIR]
#   VENV_DIR defaults to .venv-peer at the repository root.
#   PYTHON selects the interpreter that creates the virtualenv (default: python3).
#
# Safe to run again: when every pin in requirements.txt is already installed at
# its exact version, the script changes nothing.
set -euo pipefail

peer_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$peer_dir/../.." && pwd)"
venv_dir="${1:-$repo_root/.venv-peer}"
requirements="$peer_dir/requirements.txt"
python="${PYTHON:-python3}"

fail() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

# Print the pins that are missing or at another version. Exits non-zero if there are any.
check_pins() {
    "$venv_dir/bin/python" - "$requirements" <<'PY'
import sys
from importlib import metadata

mismatches = []
with open(sys.argv[1], encoding="utf-8") as requirements:
    for line in requirements:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, pinned = line.partition("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pinned:
            mismatches.append(f"{name}: pinned {pinned}, installed {installed or 'none'}")
for mismatch in mismatches:
    print(mismatch)
sys.exit(1 if mismatches else 0)
PY
}

[[ -f "$requirements" ]] || fail "$requirements not found"
command -v "$python" >/dev/null 2>&1 || fail "$python not found; install Python 3.11 or later, or set PYTHON"
# lti1p3platform needs 3.8, but the peer parses AGS score timestamps with
# datetime.fromisoformat, which accepts "Z" and nanosecond fractions from 3.11 on.
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$python is older than Python 3.11; install 3.11 or later, or set PYTHON"

if [[ ! -x "$venv_dir/bin/python" ]]; then
    echo "setup.sh: creating virtualenv $venv_dir" >&2
    "$python" -m venv "$venv_dir" \
        || fail "creating the virtualenv $venv_dir failed (on Debian, install python3-venv)"
fi

if check_pins >/dev/null; then
    echo "setup.sh: requirements already installed in $venv_dir" >&2
    exit 0
fi

echo "setup.sh: installing $requirements into $venv_dir" >&2
"$venv_dir/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2 \
    || fail "pip install -r $requirements failed; see the pip output above"

if ! mismatches="$(check_pins)"; then
    fail "installed versions do not match $requirements after pip install:"$'\n'"$mismatches"
fi
echo "setup.sh: requirements installed in $venv_dir" >&2
