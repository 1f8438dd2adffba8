"""The README's screenshots of the explorer page, taken in headless Chromium on a real bundle.

    python -m benchmarks.screenshots --model-dir models --out docs/img

Serves the bundle (a throw-away SQLite feedback store), searches "matrix", opens The Matrix,
likes it and two more movies as a visitor, looks up user 1, and saves the page at desktop
width (whole page) and at phone width (the first screen).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.servers import running_service


def wait(driver: webdriver.Chrome, condition: object) -> object:
    return WebDriverWait(driver, 30, ignored_exceptions=(
        StaleElementReferenceException,)).until(condition)  # type: ignore[arg-type]


def titles(driver: webdriver.Chrome, list_id: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, f"#{list_id} button.movie")]


def like(driver: webdriver.Chrome, search: str, title: str) -> None:
    box = driver.find_element(By.ID, "search-input")
    box.clear()
    box.send_keys(search, Keys.ENTER)
    wait(driver, lambda d: any(t.startswith(title) for t in titles(d, "search-results")))
    next(e for e in driver.find_elements(By.CSS_SELECTOR, "#search-results button.movie")
         if e.text.startswith(title)).click()
    wait(driver, lambda d: d.find_element(By.ID, "movie-title").text == title)
    wait(driver, lambda d: len(titles(d, "similar-list")) == 10)
    driver.find_element(By.ID, "like-button").click()
    wait(driver, lambda d: d.find_element(By.ID, "like-button").get_attribute("aria-pressed")
         == "true")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    store = Path(tempfile.mkdtemp(prefix="screenshots-")) / "feedback.sqlite"
    try:
        with running_service(args.model_dir, FEEDBACK_URL=f"sqlite:///{store}") as base:
            driver.get(base + "/")
            wait(driver, lambda d: d.find_element(By.ID, "model-line").text.startswith("Model"))
            like(driver, "lord of the rings", "Lord of the Rings: The Fellowship of the Ring, "
                 "The (2001)")
            like(driver, "star wars", "Star Wars: Episode IV - A New Hope (1977)")
            like(driver, "matrix", "Matrix, The (1999)")
            wait(driver, lambda d: "3 like(s)" in d.find_element(By.ID, "likes-summary").text)
            user = driver.find_element(By.ID, "user-input")
            user.send_keys("1", Keys.ENTER)
            wait(driver, lambda d: len(titles(d, "user-recommended")) == 10)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, height + 120)
            driver.save_screenshot(str(args.out / "page-desktop.png"))
            driver.set_window_size(390, 844)
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(str(args.out / "page-phone.png"))
    finally:
        driver.quit()
    print(f"wrote {args.out / 'page-desktop.png'} and {args.out / 'page-phone.png'}")


if __name__ == "__main__":
    main()
