"""What the browser tests share: a JupyterLab server on 127.0.0.1 with a token in a temporary root,
headless Chromium that reaches nothing but localhost, and the JavaScript that reads the page.

Used by ``tests/notebooks/test_browser.py``; runnable alone to look at a page by hand::

    .venv/bin/python tests/notebooks/browser_helpers.py      # prints the URL of a throwaway server, Ctrl-C stops it
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
INSTALL_HINT = ("no Chromium found: install it to run the browser tests "
                "(Debian/Ubuntu: `sudo apt-get install chromium`; or set CHROMIUM=/path/to/chromium)")

# JupyterLab settings for the test server (a settings folder of its own, nothing of the user's):
# every cell stays in the page (no windowing, so that every output can be checked and screenshot),
# and no news or update check that would try to reach the internet.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
}


def find_chromium() -> str | None:
    """The Chromium to drive: $CHROMIUM, else Debian's, else None."""
    for candidate in (os.environ.get("CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def notebook_paths() -> list[Path]:
    """Every course notebook, found by name so that a new one is covered without editing a test."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` from this environment, on 127.0.0.1 with a random token, serving a temporary
    copy of the notebooks; every Jupyter/IPython/matplotlib folder it writes to lies under ``base``."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / "root"
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.log_path = base / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, path: str) -> str:
        """``path`` (such as 'lab/tree/x.ipynb') with the token."""
        return f"{self.url}/{path}?token={self.token}"

    def start(self, timeout_s: float = 90) -> "LabServer":
        self.root.mkdir(parents=True)
        for path in notebook_paths():
            shutil.copy2(path, self.root / path.name)
        settings = self.base / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = os.environ | {
            "JUPYTER_CONFIG_DIR": str(self.base / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.base / "workspaces"),
            "IPYTHONDIR": str(self.base / "ipython"),
            "MPLCONFIGDIR": str(self.base / "matplotlib"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("JUPYTER_TOKEN", None)
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}", f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False", "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=", "--LabServerApp.extension_manager=readonly",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout_s} s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # the server shuts its kernels down on SIGTERM
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()


def launch_chromium(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def local_only(page, blocked: list[str]) -> None:
    """Abort every request that leaves this machine and note its URL in ``blocked``."""

    def route(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "file:", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", route)


# ------------------------------------------------------------------------- what a notebook holds


def saved_outputs(path: Path) -> list[dict]:
    return [output for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
            for output in cell.get("outputs", [])]


def expected_explorers(path: Path) -> list[str]:
    """The text line of every explorer (a widget output with a figure) saved in the notebook."""
    return [output["data"].get("text/plain", "widget") for output in saved_outputs(path)
            if WIDGET_VIEW in output.get("data", {})]


def has_math(path: Path) -> bool:
    notebook = nbformat.read(path, as_version=4)
    return any(re.search(r"\$[^$]+\$", cell.source) for cell in notebook.cells if cell.cell_type == "markdown")


def saved_stderr_count(path: Path) -> int:
    return sum(output.get("name") == "stderr" for output in saved_outputs(path))


DEFINED = re.compile(r"^(?:def (\w+)|(\w+)\s*=)", re.M)


def solutions(path: Path, offset: int = 0) -> list[tuple[int, str]]:
    """(cell index, the first name the cell defines) of each solution cell (tagged 'solution'), or
    with ``offset=-1`` of the exercise cell before each."""
    cells = nbformat.read(path, as_version=4).cells
    return [(index + offset, next(name for name in DEFINED.search(cells[index + offset].source).groups() if name))
            for index, cell in enumerate(cells) if "solution" in cell.metadata.get("tags", [])]


def exercises_without_solutions(text: str, path: Path) -> bool:
    """Whether ``text`` (a slideshow's) holds every exercise of ``path`` and none of its solutions."""
    return (all(name in text for _, name in solutions(path, offset=-1))
            and not any(name in text for _, name in solutions(path)))


# JavaScript run in the JupyterLab page (the app is exposed as window.jupyterapp).

JS_CANVAS_DRAWN = """(root) => {
    // whether the first canvas in root (an explorer's output, or its figure) is drawn: more than one colour
    const canvas = root.querySelector('canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let first = data.slice(0, 4).join(), colours = 0;
    for (let i = 0; i < data.length; i += 4 * 97) {
        if ([data[i], data[i + 1], data[i + 2], data[i + 3]].join() !== first) { colours++; if (colours > 50) break; }
    }
    return colours > 50;
}"""

JS_NOTEBOOK_READY = """() => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    if (!panel || !panel.sessionContext || !panel.content) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return panel.context.isReady && !!kernel && kernel.connectionStatus === 'connected'
        && kernel.status === 'idle';
}"""

JS_RUN_ALL = """async () => {
    const app = window.jupyterapp;
    await app.commands.execute('notebook:clear-all-cell-outputs');
    return await app.commands.execute('notebook:run-all-cells');
}"""

JS_IDLE_AND_DONE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session.kernel;
    if (kernel.status !== 'idle') return false;
    // no cell still queued or running ([*]) and every code cell has run
    return !panel.content.widgets.some(cell => cell.model.type === 'code'
        && (cell.promptNode && cell.promptNode.textContent.includes('*')
            || cell.model.executionCount === null));
}"""

JS_PAGE_REPORT = """() => {
    const node = window.jupyterapp.shell.currentWidget.node;
    // what the kernel sent: tracebacks, and stderr streams (warnings), per cell
    const outputs = window.jupyterapp.shell.currentWidget.content.widgets
        .filter(cell => cell.model.type === 'code').flatMap(cell => cell.model.outputs.toJSON());
    const errors = outputs.filter(o => o.output_type === 'error')
        .map(o => `${o.ename}: ${o.evalue}\\n` + (o.traceback || []).join('\\n').replace(/\\x1b\\[[0-9;]*m/g, '').slice(-2000));
    const stderr = outputs.filter(o => o.output_type === 'stream' && o.name === 'stderr')
        .map(o => [].concat(o.text).join('').slice(0, 1000));
    const markdown = [...node.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')];
    const rawMath = [];
    for (const m of markdown) {
        const copy = m.cloneNode(true);
        copy.querySelectorAll('code, pre, mjx-container, .MathJax').forEach(e => e.remove());
        const text = copy.textContent;
        const hit = text.match(/\\$\\$|\\\\(frac|beta|theta|alpha|sqrt|hat|mathbb|sum|left|right|tfrac|epsilon|nabla)\\b|(^|[^\\w$])\\$[^$\\s][^$]*\\$/);
        if (hit) rawMath.push(text.slice(Math.max(0, hit.index - 60), hit.index + 80));
    }
    const explorers = [...node.querySelectorAll('.jp-OutputArea-output')].filter(
        o => o.querySelector('.jupyter-widgets') || o.textContent.includes('Error displaying widget')
            || o.getAttribute('data-mime-type') === 'application/vnd.jupyter.widget-view+json');
    return {
        errors,
        stderr,
        mathCount: node.querySelectorAll('.jp-MarkdownCell mjx-container, .jp-MarkdownCell .MathJax').length,
        rawMath,
        widgetErrors: [...node.querySelectorAll('.jp-OutputArea-output')]
            .filter(o => /Error displaying widget|Error rendering|Failed to load model class|Loading widget\\.\\.\\./.test(o.textContent))
            .map(o => o.innerText.slice(0, 500)),
        widgetOutputs: node.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
        canvases: node.querySelectorAll('.jp-OutputArea-output .jupyter-widgets .jupyter-matplotlib canvas').length,
    };
}"""



def open_notebook(page, server: LabServer, name: str, workspace: str) -> None:
    """Open notebook ``name`` in a workspace of its own and wait for its kernel to be idle."""
    page.goto(server.page_url(f"lab/workspaces/{workspace}/tree/{name}"))
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=90_000, polling=250)


def run_all(page, timeout_ms: int = 240_000) -> None:
    """Clear the open notebook's outputs, run every cell and wait until the last has run."""
    page.evaluate(JS_RUN_ALL)
    page.wait_for_function(JS_IDLE_AND_DONE, timeout=timeout_ms, polling=250)


def explorer_outputs(page):
    """The output areas that hold an ipympl figure inside a widget."""
    return page.locator(".jp-OutputArea-output").filter(has=page.locator(".jupyter-widgets .jupyter-matplotlib canvas"))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        server = LabServer(Path(tmp)).start()
        print(server.page_url("lab"), flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            server.stop()
