"""Shared pytest hooks."""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark a test whose body failed (``item.failed_call``), so that a fixture can save screenshots."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.failed_call = True


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one CPU thread for a whole test module: small matrices gain nothing from threads, and
    on a busy machine waiting threads cost seconds. Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    from course_lib.lab.torch_bridge import one_cpu_thread

    with one_cpu_thread():
        yield
