"""Shared pytest hooks."""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark a test whose body failed (``item.failed_call``), so that a fixture can save screenshots."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.failed_call = True
