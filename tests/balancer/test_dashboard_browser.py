"""The dashboard in a real headless browser (Debian's chromium, driven by selenium through
Debian's chromedriver; no browser is downloaded): a killed node's tile turns down within 2 s,
a frozen one's turns frozen, without a reload. ``DASHBOARD_SCREENSHOT=path`` keeps a screenshot
(the README's is made so)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from loadtest.csrf import browser
from tests.balancer.conftest import Backends, StartBalancer, admin_url, lb_url
from tests.support import require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def tile_states(driver: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    tiles = driver.find_elements(By.CSS_SELECTOR, ".tile")
    return {t.get_attribute("data-name"): t.get_attribute("data-state") for t in tiles}


def wait_for(driver: Any, name: str, state: str, within: float) -> float:
    """Seconds until the tile of ``name`` shows ``state`` (fails after ``within``)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if tile_states(driver).get(name) == state:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{name} not {state} within {within}s: {tile_states(driver)}")


async def traffic(url: str, stop: asyncio.Event) -> None:
    """A little load, so that the tiles show requests/s."""
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    await response.read()
            await asyncio.sleep(0.01)


async def test_a_killed_node_turns_down_within_2_s_in_the_browser(
    backends: Backends, start_balancer: StartBalancer, tmp_path: Path
) -> None:
    require(browser.available(), browser.WHAT)
    started = backends.start(3)
    balancer = await start_balancer([b.url for b in started])
    stop = asyncio.Event()
    load = asyncio.create_task(traffic(lb_url(balancer, "/healthz"), stop))
    driver = await asyncio.to_thread(browser.start)
    try:
        await asyncio.to_thread(driver.get, admin_url(balancer, "/_lb/dashboard"))
        for backend in started:
            await asyncio.to_thread(wait_for, driver, backend.name, "up", 10.0)
        started[1].signal(signal.SIGKILL)
        took = await asyncio.to_thread(wait_for, driver, "stand-in-2", "down", 2.0)
        assert took < 2.0
        started[2].signal(signal.SIGSTOP)  # its probes time out: frozen, not down
        await asyncio.to_thread(wait_for, driver, "stand-in-3", "frozen", 10.0)
        states = await asyncio.to_thread(tile_states, driver)
        assert states == {"stand-in-1": "up", "stand-in-2": "down", "stand-in-3": "frozen"}
        events = await asyncio.to_thread(lambda: driver.find_element("id", "events").text)
        assert "stand-in-2" in events and "-> down" in events  # the health event is listed
        shot = Path(os.environ.get("DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
        await asyncio.to_thread(driver.set_window_size, 1280, 900)
        await asyncio.to_thread(driver.save_screenshot, str(shot))
        assert await asyncio.to_thread(os.path.getsize, shot) > 10_000
    finally:
        started[2].signal(signal.SIGCONT)
        stop.set()
        await load
        await asyncio.to_thread(driver.quit)
