"""Run the test suite against an installed pynenc-fastmem, not the source tree.

Usage: ``python tools/run-wheel-tests.py PROJECT_DIR [--expect cython|python]``

Checks first that ``pynenc_fastmem`` is imported from outside PROJECT_DIR (an installed
wheel or sdist) and that its store is the expected one (``cython`` by default, with
``PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1`` so a silent fallback fails the tests too),
then runs pytest on PROJECT_DIR/tests. Used by cibuildwheel and by ``.ci/run``.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    """Check the installed package, then run the tests; return pytest's exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("--expect", choices=["cython", "python"], default="cython")
    args = parser.parse_args()
    project = args.project.resolve()
    env = dict(os.environ)
    if args.expect == "cython":
        env["PYNENC_FASTMEM_REQUIRE_EXTENSIONS"] = "1"
    probe = subprocess.run(
        [sys.executable, "-c", "import pynenc_fastmem as p; print(p.__file__); print(p.IMPLEMENTATION)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=project.parent,
        env=env,
    ).stdout.split()
    location, implementation = Path(probe[0]).resolve(), probe[1]
    print(f"pynenc_fastmem from {location}, store: {implementation}")
    if project / "src" in location.parents:
        print(f"error: the package was imported from the source tree {project / 'src'}", file=sys.stderr)
        return 1
    if implementation != args.expect:
        print(f"error: expected the {args.expect} store, got {implementation}", file=sys.stderr)
        return 1
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(project / "tests")], cwd=project, env=env
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
