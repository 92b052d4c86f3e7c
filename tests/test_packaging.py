"""The set-up promised in the README: same packages for pip and conda (conda-forge), Binder's postBuild,
a light `import course_lib`, and `make lab` serving the notebooks on 127.0.0.1 behind a token."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from course_lib.lab import environment

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)\s*(>=\s*[\w.]+(?:,\s*<\s*[\w.]+)?)?$")


def requirement_pairs(lines):
    """[(name, '>=x.y')] from requirement-style lines, in order, skipping comments and `-e .`."""
    found = []
    for line in lines:
        line = line.split("#")[0].strip().removeprefix("- ")
        if not line or line.startswith("-e") or line.endswith(":"):
            continue
        match = REQUIREMENT.match(line)
        assert match, f"unreadable requirement line: {line!r}"
        found.append((match.group(1).lower(), (match.group(2) or "").replace(" ", "")))
    return found


def requirement_lines(lines):
    """{name: '>=x.y'} from requirement-style lines, skipping comments and `-e .`."""
    return dict(requirement_pairs(lines))


def pip_requirements():
    return requirement_lines((ROOT / "requirements.txt").read_text().splitlines())


# environment.yml takes each package from conda-forge, under conda-forge's name where it differs from
# the pip name in requirements.txt:
CONDA_FORGE_NAMES = {
    "torch": "pytorch-cpu",  # the CPU build (the metapackage that picks it); pytorch-gpu for CUDA
    "matplotlib": "matplotlib-base",  # matplotlib without the Qt window backend
    "playwright": "playwright-python",  # the Python package, not the Node one
}
# ... except these, which environment.yml's pip section installs: conda-forge has no schedulefree,
# and its lion-pytorch stops at 0.2.3.
PIP_ONLY = {"lion-pytorch", "schedulefree"}


def environment_yml():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_and_pip_requirements():
    """The (name, bound) pairs of environment.yml: its conda dependencies, then its pip section."""
    dependencies = environment_yml()["dependencies"]
    conda = requirement_pairs(dep for dep in dependencies if isinstance(dep, str))
    pip = requirement_pairs(line for dep in dependencies if isinstance(dep, dict) for line in dep["pip"])
    return conda, pip


def test_environment_yml_takes_everything_it_can_from_conda_forge():
    assert environment_yml()["channels"] == ["conda-forge"]
    conda, pip = conda_and_pip_requirements()
    assert {name for name, _ in pip} == PIP_ONLY, "pip is only for what conda-forge lacks"
    assert not PIP_ONLY & {name for name, _ in conda}


def test_environment_yml_lists_each_requirement_once_with_the_same_bound():
    conda, pip = conda_and_pip_requirements()
    listed = [(name, bound) for name, bound in conda + pip if name not in ("python", "pip")]
    names = [name for name, _ in listed]
    assert sorted({name for name in names if names.count(name) > 1}) == [], "listed twice"
    expected = {CONDA_FORGE_NAMES.get(name, name): bound for name, bound in pip_requirements().items()}
    assert dict(listed) == expected


def test_environment_yml_python_matches_pyproject():
    conda, _ = conda_and_pip_requirements()
    requires = re.search(r'^requires-python = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert dict(conda)["python"] == requires


def test_postbuild_installs_the_course_and_its_lab_defaults(tmp_path):
    """Binder's last step, run here with a stand-in `python` that only records how it was called."""
    bin_dir, prefix, calls = tmp_path / "bin", tmp_path / "env", tmp_path / "python-calls"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\necho "$PWD $*" >> "{calls}"\n')
    (bin_dir / "python").chmod(0o755)
    env = dict(os.environ, CONDA_PREFIX=str(prefix), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    subprocess.run([str(ROOT / "postBuild")], cwd=tmp_path, env=env, check=True)
    assert calls.read_text().splitlines() == [f"{ROOT} -m pip install --no-deps -e ."]
    settings = sorted((ROOT / "jupyter-config" / "lab-settings").glob("*.json"))
    overrides = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.d"
    assert settings and sorted(path.name for path in overrides.iterdir()) == [path.name for path in settings]
    for path in settings:
        assert (overrides / path.name).read_bytes() == path.read_bytes()


def test_every_requirement_has_a_lower_bound():
    unbounded = [name for name, bound in pip_requirements().items() if not bound]
    assert not unbounded, f"requirements without a lower bound: {unbounded}"


def test_environment_minimums_match_requirements_txt():
    pinned = pip_requirements()
    for package, minimum in environment.MINIMUM_VERSIONS.items():
        assert pinned[package].split(",")[0] == f">={minimum}", package


def test_version_tuple_reads_local_builds():
    assert environment.version_tuple("2.13.0+cpu") == (2, 13, 0)
    assert environment.version_tuple("0.9.4") < environment.version_tuple("0.10.0")


def test_this_environment_meets_the_minimums():
    assert environment.version_problems() == []


def test_import_course_lib_loads_neither_torch_nor_matplotlib():
    code = (
        "import sys, course_lib\n"
        "from course_lib import optim, schedules, clipping, averages, swa_utils\n"
        "from course_lib.lab import landscapes, runner\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib', 'ipywidgets') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_make_lab_serves_the_notebooks_on_localhost_with_a_token(tmp_path):
    port, token = free_port(), "course-test-token"
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), BROWSER="true")
    lab = subprocess.Popen(["make", "-s", "lab", f"PORT={port}", "--no-print-directory"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            time.sleep(0.5)
            try:
                status, _ = http_status(f"{base}/api/status?token={token}")
            except OSError:
                status = None
        assert status == 200, "JupyterLab did not answer within 60 s"
        assert http_status(f"{base}/api/contents")[0] == 403, "the server must require the token"
        status, listing = http_status(f"{base}/api/contents?token={token}")
        assert status == 200 and "00_welcome_and_toolkit.ipynb" in listing
        status, _ = http_status(f"{base}/lab?token={token}")
        assert status == 200
        # The course's default (jupyter-config/): saved notebooks keep their widgets' state.
        status, settings = http_status(f"{base}/lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin?token={token}")
        assert status == 200 and json.loads(settings)["schema"]["properties"]["saveState"]["default"] is True
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)


def test_lab_binds_to_localhost_only_and_allows_root_when_root():
    dry_run = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--ServerApp.ip=127.0.0.1" in dry_run
    assert ("--allow-root" in dry_run) == (os.getuid() == 0)
