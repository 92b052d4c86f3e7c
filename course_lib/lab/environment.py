"""What this machine runs the course with: package versions, and whether they are new enough.

Notebook 00 prints this report; ``MINIMUM_VERSIONS`` mirrors the lower bounds in requirements.txt
(a test keeps the two equal).
"""

import platform
import re
from importlib import metadata

MINIMUM_VERSIONS = {
    "numpy": "1.24",
    "matplotlib": "3.7",
    "torch": "2.9",
    "ipywidgets": "8.1",
    "ipympl": "0.9.4",
    "jupyterlab": "4.0",
}


def version_tuple(version: str) -> tuple[int, ...]:
    """The leading numeric part of a version string: '2.13.0+cpu' -> (2, 13, 0)."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def installed_version(package: str) -> str | None:
    """The installed version of ``package``, or None when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment_report() -> str:
    """One line per package: name, installed version, minimum the course needs."""
    lines = [f"{'python':<12}{platform.python_version():<16}(needs 3.10)"]
    for package, minimum in MINIMUM_VERSIONS.items():
        found = installed_version(package) or "not installed"
        lines.append(f"{package:<12}{found:<16}(needs {minimum})")
    return "\n".join(lines)


def version_problems() -> list[str]:
    """A sentence for each package that is missing or older than the course needs."""
    problems = []
    for package, minimum in MINIMUM_VERSIONS.items():
        found = installed_version(package)
        if found is None:
            problems.append(f"{package} is not installed (needs >= {minimum}): run `make lab` or "
                            f"`pip install -r requirements.txt -e .`")
        elif version_tuple(found) < version_tuple(minimum):
            problems.append(f"{package} {found} is older than the course needs (>= {minimum})")
    return problems
