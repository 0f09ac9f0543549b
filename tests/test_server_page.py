"""`aksar serve`'s web page (GET /) in a real headless Chromium: choose an image, the page posts it to /ocr and
draws the line boxes over the image with the recognised text beside it (or shows the server's error)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fixtures.server import load_page_models
from aksar.infer.config import ServeConfig
from aksar.infer.server import BackgroundServer, create_app

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,1100")

pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                                reason="Chromium and chromedriver are not installed (make installs them)")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="aksar-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def read_in_browser(driver, url: str, image: Path, screenshot: Path | None = None) -> dict:
    """Open the page, choose ``image`` in its file input, wait for the answer; what the DOM then shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    driver.find_element(By.ID, "file").send_keys(str(image))
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error"))
    if screenshot is not None:
        driver.save_screenshot(str(screenshot))
    return {"state": driver.find_element(By.TAG_NAME, "body").get_attribute("data-state"),
            "status": driver.find_element(By.ID, "status").text,
            "boxes": len(driver.find_elements(By.CSS_SELECTOR, "#pages svg polygon.line-box")),
            "images": len(driver.find_elements(By.CSS_SELECTOR, "#pages svg image")),
            "texts": driver.execute_script(  # each line's text without its confidence badge
                "return [...document.querySelectorAll('#lines li.line-text')].map(li => li.firstChild.textContent)")}


def test_the_page_shows_the_servers_error(browser, khmer_line_pngs, tmp_path):
    """Without a detector /ocr answers 503: the page says so (the whole browser -> server -> page path)."""
    from aksar.infer.recognizer import Recognizer

    image = tmp_path / "line.png"
    image.write_bytes(khmer_line_pngs[0][1])
    app = create_app(ServeConfig(det="none"), recognizer=Recognizer("khmer", threads=1))
    with BackgroundServer(app) as url:
        shown = read_in_browser(browser, url, image)
    assert shown["state"] == "error" and "503" in shown["status"] and "--det" in shown["status"]
    assert shown["boxes"] == 0 and shown["texts"] == []


def test_the_page_draws_line_boxes_and_text(browser, khmer_page_png, tmp_path):
    import httpx

    recognizer, reader = load_page_models(threads=1)
    truth, png = khmer_page_png
    image = tmp_path / "page.png"
    image.write_bytes(png)
    with BackgroundServer(create_app(ServeConfig(), recognizer=recognizer, reader=reader)) as url:
        answer = httpx.post(url + "/ocr", files={"file": ("page.png", png, "image/png")}, timeout=120).json()
        shown = read_in_browser(browser, url, image, Path(tempfile.gettempdir()) / "aksar_serve_page.png")
    served = [ln["text"] for block in answer["pages"][0]["blocks"] for ln in block["lines"]]
    assert shown["state"] == "done", shown["status"]
    assert shown["images"] == 1 and shown["boxes"] == len(served)
    assert abs(len(served) - len(truth)) <= max(2, len(truth) // 5)
    assert shown["texts"] == served  # every line's text, in reading order
    assert f"{len(served)} line(s)" in shown["status"]
