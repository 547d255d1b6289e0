#!/usr/bin/env bash
# Print the path of a free-threaded CPython >= 3.13 (built with --disable-gil): $PYTHON_FT if
# set, else the one ../shared/freethreaded/build-python.sh builds beside this repository (about
# 8 minutes the first time, then cached in ~/.cache). Every candidate is checked by running it.
set -u

is_free_threaded() {
    "$1" -c 'import sys, sysconfig
sys.exit(not (sys.version_info >= (3, 13) and sysconfig.get_config_var("Py_GIL_DISABLED")))' >/dev/null 2>&1
}

if [ -n "${PYTHON_FT:-}" ]; then
    if is_free_threaded "$PYTHON_FT"; then
        command -v "$PYTHON_FT" || echo "$PYTHON_FT"
        exit 0
    fi
    echo "PYTHON_FT=$PYTHON_FT is not a runnable free-threaded Python >= 3.13" >&2
    exit 1
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
builder="$here/../../shared/freethreaded/build-python.sh"
if [ -x "$builder" ]; then
    echo "Building (or reusing) a free-threaded CPython with $builder" >&2
    python_ft=$("$builder") || exit 1
    if is_free_threaded "$python_ft"; then
        echo "$python_ft"
        exit 0
    fi
fi
echo "The free-threaded targets need a free-threaded CPython >= 3.13 (python3.14t): name it with" \
     "PYTHON_FT=/path/to/python3.14t, or put the shared/freethreaded builder beside this repository." >&2
exit 1
