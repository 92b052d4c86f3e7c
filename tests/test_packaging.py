"""The set-up promised in the README: same packages for pip and conda, a light `import course_lib`,
and `make lab` serving the notebooks on 127.0.0.1 behind a token."""

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

from course_lib.lab import environment

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)\s*(>=\s*[\w.]+(?:,\s*<\s*[\w.]+)?)?$")


def requirement_lines(lines):
    """{name: '>=x.y'} from requirement-style lines, skipping comments and `-e .`."""
    found = {}
    for line in lines:
        line = line.split("#")[0].strip().removeprefix("- ")
        if not line or line.startswith("-e") or line.endswith(":"):
            continue
        match = REQUIREMENT.match(line)
        assert match, f"unreadable requirement line: {line!r}"
        found[match.group(1).lower()] = (match.group(2) or "").replace(" ", "")
    return found


def pip_requirements():
    return requirement_lines((ROOT / "requirements.txt").read_text().splitlines())


def conda_pip_requirements():
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    return requirement_lines(pip_section.splitlines())


def test_requirements_and_environment_yml_list_the_same_packages():
    assert pip_requirements() == conda_pip_requirements()
    assert "-e ." in (ROOT / "environment.yml").read_text(), "environment.yml must install course_lib"


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
