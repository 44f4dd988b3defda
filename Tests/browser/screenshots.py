"""Screenshots of each page of the web viewer for docs/UI.md (`make ui-screenshots`): a fresh
server with the browser tests' demo data, Chromium at 1280×720 (and a phone at 390×844)."""

import os
import subprocess
import tempfile
import time
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from uitools import JOB_A, JOB_INDEX, WF_NEW, binary, chromium, get_json, running_server, seed

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "ui")


def wait(driver, script):
    WebDriverWait(driver, 30, poll_frequency=0.05).until(lambda d: d.execute_script(script))
    time.sleep(0.3)


def shot(driver, name):
    path = os.path.join(OUT, name + ".png")
    driver.save_screenshot(path)
    print(f"{path} ({os.path.getsize(path) // 1024} KB)")


def main():
    os.makedirs(OUT, exist_ok=True)
    with running_server(prefix="logstore-shots-") as (port, _):
        seed(port)
        base = f"http://127.0.0.1:{port}/ui/"
        job = urllib.parse.urlencode({"index": JOB_INDEX, "workflow": WF_NEW, "job": JOB_A})
        line = get_json(port, f"/v1/logs?{job}&limit=60")["lines"][57]["cursor"]
        for theme in ("dark", "light"):
            driver = chromium()
            try:
                driver.get(base)
                driver.execute_script(f"localStorage.setItem('logstore-theme', '{theme}')")
                suffix = "" if theme == "dark" else "-light"
                driver.get(base + "#/workflows")
                driver.refresh()
                wait(driver, "return document.querySelector('table.workflows tbody td.id a')")
                shot(driver, "workflows" + suffix)
                if theme == "light":
                    continue
                driver.get(base + f"#/workflow?id={WF_NEW}")
                wait(driver, "return document.querySelector('.engine .rows[data-complete=\"1\"] .r .n')")
                shot(driver, "workflow")
                driver.get(base + f"#/log?{job}&at={line}")
                wait(driver, "return document.querySelector('.r.sel')")
                shot(driver, "log")
                driver.get(base + "#/search?q=" + urllib.parse.quote('error OR "checkpoint written"') + "&range=all")
                wait(driver, "return document.querySelector('ol.results .hit')")
                shot(driver, "search")
            finally:
                driver.quit()
        phone = chromium(390, 844)
        try:
            phone.get(base + f"#/log?{job}")
            wait(phone, "return document.querySelector('.rows[data-complete=\"1\"] .r .n')")
            shot(phone, "phone-log")
        finally:
            phone.quit()
    directory = tempfile.mkdtemp(prefix="logstore-shots-users-")
    users = os.path.join(directory, "users.json")
    subprocess.run([binary(), "user", "add", "viewer", "--role", "read", "--users", users, "--password", "viewer-pw"], check=True, capture_output=True)
    with running_server(prefix="logstore-shots-login-", extra_args=["--users", users]) as (port, _):
        driver = chromium()
        try:
            driver.get(f"http://127.0.0.1:{port}/ui/")
            wait(driver, "return document.querySelector('form.login')")
            driver.find_element(By.NAME, "user").send_keys("viewer")
            shot(driver, "login")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
