"""Fixtures of the browser tests: one seeded server for the module, one Chromium per test; after
each test a screenshot in .build/browser/ and a check that the page logged no console error."""

import os

import pytest

from uitools import SHOTS, chromium, console_errors, running_server, seed


@pytest.fixture(scope="module")
def server():
    with running_server(prefix="logstore-ui-") as (port, _):
        seed(port)
        yield port


@pytest.fixture
def browser(request):
    driver = chromium()
    try:
        yield driver
        os.makedirs(SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SHOTS, request.node.name + ".png"))
        errors = console_errors(driver)
        assert not errors, f"console errors: {errors}"
    finally:
        driver.quit()
