"""Debian's Chromium, headless, driven by selenium through Debian's chromedriver.

No browser is downloaded (none could be here): ``apt-get install chromium chromium-driver``.
Each scenario gets a fresh browser, so that no cookie of one scenario reaches the next (cookies
are kept per host, not per port).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WHAT = "chromium and chromium-driver (Debian) and selenium (the dev extra)"


def available() -> bool:
    return (
        Path(CHROMIUM).exists()
        and (Path(CHROMEDRIVER).exists() or shutil.which("chromedriver") is not None)
        and importlib.util.find_spec("selenium") is not None
    )


def start() -> Any:
    """A headless Chromium (a selenium ``WebDriver``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    return driver


#: Logs in from the app's own page, as its script would: the JSON login sets the cookie (cookie
#: mode) and returns the token, which a Bearer app keeps in memory and sends by hand.
LOGIN = """
const [user, password, done] = arguments;
fetch('/auth/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
                      body: JSON.stringify({username: user, password: password})})
  .then(r => r.json()).then(body => done(body.access_token), e => done(null));
"""


def login(driver: Any, app: str, user: str, password: str) -> str:
    """Open the app's origin and log in there; the token (the body's ``access_token``)."""
    driver.get(f"{app}/healthz")
    token = driver.execute_async_script(LOGIN, user, password)
    if not token:
        raise RuntimeError(f"the browser could not log in at {app}")
    return str(token)


def cookie_names(driver: Any) -> list[str]:
    return sorted(str(c["name"]) for c in driver.get_cookies())


def visit(driver: Any, url: str, lands_on: str | None) -> None:
    """Open the attacker's ``url``; wait until its form has taken the browser to ``lands_on``
    (``None``: the answer is a 204, after which a browser stays where it was)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    if lands_on is not None:
        WebDriverWait(driver, 10).until(lambda d: str(d.current_url).startswith(lands_on))
