#!/usr/bin/env bash
# Build the package as it was at a commit, renamed pynenc_fastmem_before, into a folder, so the
# benchmarks can measure it beside the working tree in one run (make bench-compare).
#   tools/build-before.sh COMMIT FOLDER PYTHON
set -euo pipefail
commit=$1 folder=$2 python=$3
rm -rf "$folder" && mkdir -p "$folder"
git archive "$commit" src/pynenc_fastmem | tar -x -C "$folder"
mv "$folder/src/pynenc_fastmem" "$folder/pynenc_fastmem_before" && rmdir "$folder/src"
cd "$folder"
"$python" - <<'PY'
from Cython.Build import cythonize
from setuptools import Extension, setup

extension = Extension(
    "pynenc_fastmem_before._store_c", ["pynenc_fastmem_before/_store_c.pyx"], extra_compile_args=["-O3"]
)
setup(
    name="pynenc_fastmem_before",
    script_args=["build_ext", "--inplace", "--quiet"],
    ext_modules=cythonize([extension], compiler_directives={"boundscheck": False, "wraparound": False}, quiet=True),
)
PY
echo "built $commit in $folder"
