"""Does `pip install pynenc-fastmem` find a binary wheel of every runtime dependency, per wheel we build?

Usage: ``python tools/check-dependency-wheels.py [--markdown | --update-docs] [--pip-check]``

For each build identifier cibuildwheel makes from ``pyproject.toml`` (CPython versions times
platforms), walks our runtime dependencies and their whole tree as pip would for that
interpreter and platform (environment markers evaluated for it), and asks PyPI for each package
the newest release allowed by the requirement that has a wheel installable there (what
``pip download --only-binary=:all:`` picks). Prints one row per build identifier: ``ok``, or the
packages pip would have to build from source. ``--pip-check`` runs ``pip download
--only-binary=:all:`` for every identifier as well and fails if the two disagree. Exit status 0
either way without ``--pip-check``: the table is information, not a gate. ``--update-docs``
writes the same verdicts as a platform-by-Python matrix into docs/platforms.md, between the
``dependency-wheels`` markers. Needs network access to PyPI and the ``packaging`` library.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
PYPI = "https://pypi.org/pypi"

# Platforms the wheels workflow builds on (see [tool.cibuildwheel] and wheels.yml): the
# platform tag of the identifier, the platform tags a wheel may carry there, and the markers.
MANYLINUX_GLIBC = range(17, 40)  # manylinux_2_17 (manylinux2014, the oldest cibuildwheel builds) to 2_39
PLATFORMS = {
    "manylinux_x86_64": ("linux", "x86_64"),
    "manylinux_aarch64": ("linux", "aarch64"),
    "musllinux_x86_64": ("linux", "x86_64"),
    "musllinux_aarch64": ("linux", "aarch64"),
    "macosx_x86_64": ("darwin", "x86_64"),
    "macosx_arm64": ("darwin", "arm64"),
    "win_amd64": ("win32", "AMD64"),
}


@dataclass(frozen=True)
class Target:
    """One wheel we build: a CPython version (free-threaded or not) on one platform."""

    python: str  # "312", "314t"
    platform: str  # a key of PLATFORMS

    @property
    def identifier(self) -> str:
        """cibuildwheel's build identifier."""
        return f"cp{self.python}-{self.platform}"

    @property
    def version(self) -> tuple[int, int]:
        digits = self.python.rstrip("t")
        return int(digits[0]), int(digits[1:])

    def platform_tags(self) -> list[str]:
        """The platform tags a wheel installable here may carry, most specific first."""
        kind, arch = self.platform.split("_", 1)
        if kind == "manylinux":
            tags = [f"manylinux_2_{minor}_{arch}" for minor in reversed(MANYLINUX_GLIBC)]
            return [*tags, f"manylinux2014_{arch}"] + (
                [f"manylinux2010_{arch}", f"manylinux1_{arch}"] if arch == "x86_64" else []
            )
        if kind == "musllinux":
            return [f"musllinux_1_{minor}_{arch}" for minor in (2, 1, 0)]
        if kind == "macosx":
            versions = [(major, 0) for major in range(15, 10, -1)] + [
                (10, minor) for minor in range(15, 8, -1)
            ]
            if arch == "arm64":
                versions = [(major, minor) for major, minor in versions if major >= 11]
            return [
                f"macosx_{major}_{minor}_{name}" for major, minor in versions for name in (arch, "universal2")
            ]
        return [self.platform]

    def tags(self) -> set[Tag]:
        """Every wheel tag pip accepts here."""
        abi = f"cp{self.python}"
        platforms = self.platform_tags()
        return {
            *cpython_tags(self.version, [abi], platforms),
            *compatible_tags(self.version, f"cp{self.python.rstrip('t')}", platforms),
        }

    def markers(self) -> dict[str, str]:
        """Environment markers as pip evaluates them there."""
        system, machine = PLATFORMS[self.platform]
        major, minor = self.version
        environment = default_environment()
        environment.update(
            python_version=f"{major}.{minor}",
            python_full_version=f"{major}.{minor}.0",
            implementation_name="cpython",
            platform_python_implementation="CPython",
            sys_platform=system,
            platform_system={"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[system],
            platform_machine=machine,
            os_name="nt" if system == "win32" else "posix",
        )
        return environment  # type: ignore[return-value]


def targets() -> list[Target]:
    """The build identifiers of [tool.cibuildwheel] in pyproject.toml, on the workflow's platforms."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    pythons = [pattern.split("-")[0].removeprefix("cp") for pattern in config["build"].split()]
    return [Target(python, platform) for python in pythons for platform in PLATFORMS]


@functools.cache
def _pypi(path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{PYPI}/{path}/json", timeout=60) as response:
        return json.load(response)  # type: ignore[no-any-return]


def project(name: str) -> dict[str, list[dict[str, str]]]:
    """PyPI's release files of ``name``, by version."""
    return _pypi(name)["releases"]  # type: ignore[no-any-return]


def requires(name: str, version: str) -> tuple[str, ...]:
    """The requirements ``name`` ``version`` declares (the latest release's from the project page)."""
    latest = _pypi(name)["info"]
    info = latest if Version(latest["version"]) == Version(version) else _pypi(f"{name}/{version}")["info"]
    return tuple(info.get("requires_dist") or ())


def wheel_release(requirement: Requirement, target: Target) -> str | None:
    """The newest release allowed by ``requirement`` with a wheel installable on ``target``."""
    accepted = target.tags()
    releases = []
    for text, files in project(requirement.name).items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if requirement.specifier.contains(version) and not version.is_prerelease:
            releases.append((version, files))
    for version, files in sorted(releases, key=lambda release: release[0], reverse=True):
        for file in files:
            if file["filename"].endswith(".whl") and not file.get("yanked"):
                if parse_wheel_filename(file["filename"])[3] & accepted:
                    return str(version)
    return None


def missing_wheels(target: Target, roots: list[str]) -> list[str]:
    """The packages of the dependency tree with no wheel for ``target`` (``name requirement``)."""
    environment = target.markers()
    seen: set[str] = set()
    missing: list[str] = []
    pending = [(Requirement(text), ()) for text in roots]
    while pending:
        requirement, extras = pending.pop()
        if requirement.marker and not any(
            requirement.marker.evaluate({**environment, "extra": extra}) for extra in (extras or ("",))
        ):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        version = wheel_release(requirement, target)
        if version is None:
            missing.append(f"{name}{requirement.specifier}")
            # pip would build the newest allowed release: walk its requirements.
            allowed = [Version(v) for v in project(requirement.name) if requirement.specifier.contains(v)]
            if not allowed:
                continue
            version = str(max(allowed))
        pending += [
            (Requirement(text), tuple(requirement.extras)) for text in requires(requirement.name, version)
        ]
    return sorted(missing)


def pip_finds_every_wheel(target: Target, roots: list[str]) -> bool:
    """Whether ``pip download --only-binary=:all:`` resolves ``roots`` for ``target``."""
    platforms = [argument for tag in target.platform_tags() for argument in ("--platform", tag)]
    major, minor = target.version
    with tempfile.TemporaryDirectory() as directory:
        finished = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", directory,
             "--python-version", f"{major}.{minor}", "--implementation", "cp", "--abi", f"cp{target.python}",
             *platforms, *roots],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    return finished.returncode == 0


PLATFORM_NAMES = {
    "manylinux_x86_64": "Linux x86_64 (glibc)",
    "manylinux_aarch64": "Linux aarch64 (glibc)",
    "musllinux_x86_64": "Linux x86_64 (musl, Alpine)",
    "musllinux_aarch64": "Linux aarch64 (musl, Alpine)",
    "macosx_x86_64": "macOS x86_64",
    "macosx_arm64": "macOS arm64",
    "win_amd64": "Windows AMD64",
}
DOCS_MARKERS = ("<!-- dependency-wheels: start -->\n", "<!-- dependency-wheels: end -->\n")


def matrix(verdicts: dict[Target, list[str]]) -> str:
    """The verdicts as a Markdown table: a row per platform, a column per Python."""
    pythons = list(dict.fromkeys(target.python for target in verdicts))
    header = " | ".join(f"{python[0]}.{python[1:]}" for python in pythons)
    lines = [f"| platform | {header} |", "|---|" + "---|" * len(pythons)]
    for platform, name in PLATFORM_NAMES.items():
        cells = []
        for python in pythons:
            missing = verdicts[Target(python, platform)]
            names = ", ".join(Requirement(requirement).name for requirement in missing)
            cells.append(f"needs {names} built (Rust)" if missing else "yes")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def update_docs(table: str) -> None:
    """Put ``table`` between the markers in docs/platforms.md."""
    readme = ROOT / "docs" / "platforms.md"
    start, end = DOCS_MARKERS
    text = readme.read_text()
    before, rest = text.split(start, 1)
    readme.write_text(before + start + table + end + rest.split(end, 1)[1])


def main() -> int:
    """Print the table; with ``--pip-check``, fail where pip disagrees with it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="print a Markdown table")
    output.add_argument("--update-docs", action="store_true", help="write the matrix into docs/platforms.md")
    parser.add_argument("--pip-check", action="store_true", help="confirm each row with pip download")
    options = parser.parse_args()
    roots = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    disagreements = 0
    verdicts = {target: missing_wheels(target, roots) for target in targets()}
    if options.markdown:
        print("| build identifier | `pip install pynenc-fastmem` with no Rust toolchain |\n|---|---|")
    for target, missing in verdicts.items():
        verdict = (
            "ok: every dependency has a wheel" if not missing else "builds from source: " + ", ".join(missing)
        )
        if options.pip_check and pip_finds_every_wheel(target, roots) != (not missing):
            disagreements += 1
            verdict += "  <- pip download disagrees"
        if not options.update_docs:
            print(
                f"| `{target.identifier}` | {verdict} |"
                if options.markdown
                else f"{target.identifier:28} {verdict}"
            )
    if options.update_docs:
        update_docs(matrix(verdicts))
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
