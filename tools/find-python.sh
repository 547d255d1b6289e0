#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (or, given a version such as 3.12, of that one):
# $PYTHON if set, else the usual names on PATH, else pyenv's installed versions. pyenv's
# shims for versions not selected fail to run, so every candidate is checked by running it.
set -u
wanted=${1:-}

is_recent() {
    if [ -n "$wanted" ]; then
        "$1" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$wanted')" >/dev/null 2>&1
    else
        "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
    fi
}

if [ -n "${PYTHON:-}" ] && [ -z "$wanted" ]; then
    if is_recent "$PYTHON"; then
        command -v "$PYTHON" || echo "$PYTHON"
        exit 0
    fi
    echo "PYTHON=$PYTHON is not a runnable Python >= 3.12" >&2
    exit 1
fi

candidates=(python3.14 python3.13 python3.12 python3 python)
if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root)
    for dir in $(ls -d "$root"/versions/3.* 2>/dev/null | sort -rV); do
        candidates+=("$dir/bin/python3")
    done
fi
for candidate in "${candidates[@]}"; do
    if is_recent "$candidate"; then
        command -v "$candidate" 2>/dev/null || echo "$candidate"
        exit 0
    fi
done
if [ -n "$wanted" ]; then
    echo "Python $wanted is needed here and was not found among ${candidates[*]}." >&2
    exit 1
fi
echo "pynenc-fastmem needs Python >= 3.12 (pynenc 0.4 does): none found among" \
     "${candidates[*]}. Install one, or name it with PYTHON=/path/to/python3.12." >&2
exit 1
