"""The explorer page in a real headless Chromium (Debian's chromium and chromium-driver, driven
by Selenium), against a real service process: what a person does, step by step.

Skips with a message where no browser is installed, except with REQUIRE_BROWSER=1 (set by
.ci/run, which installs them): then it fails. Screenshots at desktop and phone width go to
$SCREENSHOT_DIR (default: the test's temporary folder); `make screenshots` takes them of the
real bundle in models/ for the README.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bundles import planted_release
from tests.servers import running_service
from training.commands.train import train_command
from training.models.config import HybridConfig

pytestmark = pytest.mark.slow
KEY = "page-test-key"


def _browser_paths() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    paths = _browser_paths()
    if paths is None:
        message = "no Chromium and chromedriver (apt-get install chromium chromium-driver)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; REQUIRE_BROWSER=1 forbids skipping")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted release with one movie renamed "Matrix, The (1999)", trained briefly (or
    $PAGE_MODELS_DIR, a models folder to test against instead)."""
    given = os.environ.get("PAGE_MODELS_DIR")
    if given:
        return Path(given)
    release = tmp_path_factory.mktemp("release")
    for path in planted_release().iterdir():
        shutil.copy(path, release / path.name)
    movies = (release / "movies.dat").read_text(encoding="latin-1").splitlines()
    assert movies[0].startswith("1::Action Movie 0")
    movies[0] = "1::Matrix, The (1999)::Action|Sci-Fi"
    (release / "movies.dat").write_text("\n".join(movies) + "\n", encoding="latin-1")
    out = tmp_path_factory.mktemp("models")
    train_command(str(release), str(out),
                  config=HybridConfig(epochs=3, autoencoder_epochs=3, trials=1), progress=False)
    return out


def _wait(driver: object, condition: object, timeout: float = 20) -> object:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # a list re-rendered while it is read: read it again
    return WebDriverWait(driver, timeout, ignored_exceptions=(
        StaleElementReferenceException,)).until(condition)


def _texts(driver: object, list_id: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, f"#{list_id} button.movie")]


def _full_page_screenshot(driver: object, path: Path) -> None:
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 120)  # headless: the window is the page
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 1000)


def test_a_person_explores_the_recommender(browser: object, models: Path,
                                           tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver = browser
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with running_service(models, API_KEY=KEY) as base:
        driver.get(base + "/")
        _wait(driver, lambda d: d.find_element(By.ID, "model-line").text.startswith("Model "))
        # the model card: version, facts, learning curves
        facts = driver.find_element(By.ID, "model-facts").text
        assert "version" in facts and "training data" in facts and "validation" in facts
        assert driver.find_elements(By.CSS_SELECTOR, "#curves svg polyline.curve")
        assert "dim" in driver.find_element(By.ID, "model-params").text

        # search "matrix" with the keyboard, open The Matrix
        box = driver.find_element(By.ID, "search-input")
        box.send_keys("matrix", Keys.ENTER)
        _wait(driver, lambda d: any("Matrix" in t for t in _texts(d, "search-results")))
        next(e for e in driver.find_elements(By.CSS_SELECTOR, "#search-results button.movie")
             if "Matrix" in e.text).click()
        _wait(driver, lambda d: d.find_element(By.ID, "movie-title").text
              == "Matrix, The (1999)")
        assert driver.switch_to.active_element.get_attribute("id") == "movie-title"
        _wait(driver, lambda d: len(_texts(d, "similar-list")) == 10)
        first_similar = _texts(driver, "similar-list")[0]
        driver.find_element(By.ID, "similar-more").click()
        _wait(driver, lambda d: len(_texts(d, "similar-list")) == 20)
        assert len(set(_texts(driver, "similar-list"))) == 20  # pages never overlap
        driver.find_element(By.CSS_SELECTOR, "#similar-list button.movie").click()
        _wait(driver, lambda d: d.find_element(By.ID, "movie-title").text
              == first_similar.split(" — ")[0])

        # like three Comedy movies as a visitor: the list turns to Comedy
        before = _texts(driver, "foryou-list")
        assert driver.find_element(By.ID, "strategy").text == "cold start"
        assert sum("Comedy" in t for t in before) <= 3, before  # popularity: mostly not
        box = driver.find_element(By.ID, "search-input")
        box.clear()
        box.send_keys("Comedy Movie 1", Keys.ENTER)
        _wait(driver, lambda d: len(_texts(d, "search-results")) >= 3)
        titles = _texts(driver, "search-results")[:3]
        for title in titles:
            box = driver.find_element(By.ID, "search-input")
            box.clear()
            box.send_keys(title.split(" — ")[0].split(" (")[0], Keys.ENTER)
            _wait(driver, lambda d, t=title: t in _texts(d, "search-results"))
            next(e for e in driver.find_elements(By.CSS_SELECTOR,
                                                 "#search-results button.movie")
                 if e.text == title).click()
            _wait(driver, lambda d, t=title: d.find_element(By.ID, "movie-title").text
                  == t.split(" — ")[0])
            driver.find_element(By.ID, "like-button").click()
            _wait(driver, lambda d: d.find_element(By.ID, "like-button")
                  .get_attribute("aria-pressed") == "true")
        _wait(driver, lambda d: d.find_element(By.ID, "strategy").text == "history")
        _wait(driver, lambda d: "3 like(s)" in d.find_element(By.ID, "likes-summary").text)
        after = _texts(driver, "foryou-list")
        assert after != before
        assert sum("Comedy" in t for t in after) >= 7, after
        _full_page_screenshot(driver, shots / "page-desktop.png")

        # filter by a genre, then page further
        Select(driver.find_element(By.ID, "genre-select")).select_by_visible_text("Drama")
        _wait(driver, lambda d: _texts(d, "foryou-list") and all(
            "Drama" in t for t in _texts(d, "foryou-list")))
        driver.find_element(By.ID, "foryou-more").click()
        _wait(driver, lambda d: len(_texts(d, "foryou-list")) == 20)
        assert len(set(_texts(driver, "foryou-list"))) == 20

        # a user of the training data: their likes next to their recommendations
        user = driver.find_element(By.ID, "user-input")
        user.send_keys("4", Keys.ENTER)
        _wait(driver, lambda d: len(_texts(d, "user-recommended")) == 10)
        assert _texts(driver, "user-liked")
        assert "ratings in training" in driver.find_element(By.ID, "user-status").text

        # an error from the API is shown as a message: a write without the API key
        who = driver.find_element(By.ID, "who-input")
        who.send_keys("4", Keys.ENTER)
        _wait(driver, lambda d: "as user 4" in d.find_element(By.ID, "likes-summary").text)
        driver.find_element(By.ID, "like-button").click()
        message = _wait(driver, lambda d: d.find_element(By.ID, "message").is_displayed()
                        and d.find_element(By.ID, "message").text)
        assert "401" in message and "X-API-Key" in message

        driver.set_window_size(390, 844)
        driver.get(base + "/")
        _wait(driver, lambda d: d.find_element(By.ID, "model-line").text.startswith("Model "))
        _wait(driver, lambda d: len(_texts(d, "foryou-list")) == 10)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at phone width ({width} px)"
        driver.save_screenshot(str(shots / "page-phone.png"))
        driver.set_window_size(1280, 1000)
    assert (shots / "page-desktop.png").stat().st_size > 10_000


def test_the_page_speaks_the_catalogues_language(browser: object) -> None:
    """A generic catalogue (string ids, implicit, no timestamps; tests.test_generic_service):
    labels say "item", ids are text, a string id opens, likes post and change the list."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.test_generic_service import generic_models

    driver = browser
    _, generic = generic_models()
    with running_service(generic) as base:
        driver.get(base + "/")
        _wait(driver, lambda d: d.find_element(By.ID, "model-line").text.startswith("Model "))
        _wait(driver, lambda d: d.title == "Item recommender")
        assert driver.find_element(By.TAG_NAME, "h1").text == "Item recommender"
        assert driver.find_element(By.ID, "search-heading").text == "Find an item"
        assert "movie" not in driver.find_element(By.TAG_NAME, "main").text.lower()
        box = driver.find_element(By.ID, "search-input")
        box.send_keys("noir 3", Keys.ENTER)
        _wait(driver, lambda d: any("ítem noir 3" in t for t in _texts(d, "search-results")))
        assert "item(s) match" in driver.find_element(By.ID, "search-status").text
        next(e for e in driver.find_elements(By.CSS_SELECTOR, "#search-results button.movie")
             if e.text.startswith("Title of ítem noir 3")).click()
        _wait(driver, lambda d: d.find_element(By.ID, "movie-title").text
              == "Title of ítem noir 3")
        _wait(driver, lambda d: len(_texts(d, "similar-list")) >= 3)
        assert driver.find_element(By.ID, "similar-more").text == "More similar items"
        # a user of the training data by their string id
        user = driver.find_element(By.ID, "user-input")
        assert user.get_attribute("type") == "text"
        user.send_keys("Ana María", Keys.ENTER)
        _wait(driver, lambda d: d.find_element(By.ID, "user-status").text.startswith(
            "User Ana María: "))
        assert len(_texts(driver, "user-recommended")) == 10
        # a visitor's like changes their list
        driver.find_element(By.ID, "like-button").click()
        _wait(driver, lambda d: "1 like(s)" in d.find_element(By.ID, "likes-summary").text)
        _wait(driver, lambda d: d.find_element(By.ID, "strategy").text == "history")
