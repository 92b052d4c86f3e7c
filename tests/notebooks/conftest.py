"""Fixtures of the browser tests (test_browser*.py, test_slides.py): one JupyterLab server and one
headless Chromium for the whole session (see browser_helpers.py), and pages that reach only this
machine and keep a screenshot and their console when a test fails."""

import os
from pathlib import Path

import pytest

from browser_helpers import INSTALL_HINT, ROOT, LabServer, find_chromium, launch_chromium, local_only

VIEWPORT = {"width": 1400, "height": 1000}


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def chromium_path():
    path = find_chromium()
    if path is None:
        pytest.skip(INSTALL_HINT)
    pytest.importorskip("playwright", reason="playwright is missing: `make venv` installs it")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright, chromium_path)
    except Exception as error:  # a broken install: say so instead of a wall of playwright text
        playwright.stop()
        pytest.fail(f"Chromium at {chromium_path} did not start: {error}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="session")
def lab(browser, tmp_path_factory):
    server = LabServer(tmp_path_factory.mktemp("jupyterlab")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "test-artifacts" / "browser"))


class Page:
    """A fresh page that reaches only this machine, and notes page errors and blocked requests."""

    def __init__(self, browser, artifacts: Path, name: str, viewport: dict | None = None):
        self.context = browser.new_context(viewport=viewport or VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.blocked: list[str] = []
        self.console: list[str] = []
        self.artifacts = artifacts
        self.name = name
        local_only(self.page, self.blocked)
        self.page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text[:500]}")
                     if message.type in ("error", "warning") else None)

    def save(self, suffix: str, locator=None) -> Path | None:
        """A screenshot (of ``locator`` or the page) into the artifacts folder; its path."""
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            path = self.artifacts / f"{self.name}-{suffix}.png"
            (locator or self.page).screenshot(path=str(path))
            return path
        except Exception:  # a screenshot is a courtesy; never hide the real failure behind it
            return None

    def close(self):
        self.context.close()


@pytest.fixture
def page_for(browser, artifacts, request):
    """``page_for(name)`` opens a Page; on failure its screenshot and console go to artifacts."""
    pages: list[Page] = []

    def open_page(name: str, viewport: dict | None = None) -> Page:
        pages.append(Page(browser, artifacts, name, viewport))
        return pages[-1]

    yield open_page
    failed = getattr(request.node, "failed_call", False)
    for page in pages:
        if failed:
            shot = page.save("failure")
            (page.artifacts / f"{page.name}-console.txt").write_text("\n".join(page.console + page.blocked))
            print(f"screenshot of the failure: {shot}")
        page.close()
