"""The studio in a real browser: Debian's headless Chromium driven by Selenium.

The app runs on a free port (uvicorn in a thread) with the shipped model on the CPU.
The browser fills the form, drafts 4 pieces of 8 bars, sees 4 piano rolls drawn and an
audio element that loads a non-silent WAV, picks a draft, drags across bars 3-4 of its
roll and regenerates them, and the MIDI it then downloads keeps every other bar note
for note; the MusicXML it downloads is read by music21; a screenshot is saved.
"""
from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("Debian's chromium and chromium-driver are not installed "
                "(apt-get install -y chromium chromium-driver; .ci/run does)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
uvicorn = pytest.importorskip("uvicorn")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tunesmith.studio import create_app  # noqa: E402

DRAFT_TIMEOUT = 600  # seconds: 4 drafts take ~1 s on a quiet machine, far more on a shared one
SHOT = os.environ.get("TUNESMITH_STUDIO_SCREENSHOT")
"""Where to also save the screenshot (the README's picture is made this way)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The studio's URL, served by uvicorn from a thread."""
    port = free_port()
    app = create_app(tmp_path_factory.mktemp("studio"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1400,1100",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(300)  # the first WAV is rendered on request; a busy machine is slow
    yield driver
    driver.quit()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=300) as response:
        return response.read()


def set_field(driver, name: str, value: str) -> None:
    element = driver.find_element(By.ID, f"f-{name}")
    element.clear()
    element.send_keys(value)


def start_job(driver, button: str) -> str:
    """Click ``button``; wait for the job it starts to end; its status line."""
    before = driver.find_element(By.ID, "status").text
    driver.find_element(By.ID, button).click()

    def ended(d):
        text = d.find_element(By.ID, "status").text
        return text != before and text.split(":")[0] in ("done", "failed", "cancelled") and text

    return WebDriverWait(driver, DRAFT_TIMEOUT, 0.2).until(ended)


def coloured_pixels(driver, canvas) -> int:
    """Pixels of a canvas that are neither blank nor the roll's grey grid."""
    return driver.execute_script("""
        const c = arguments[0], px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) {
          const [r, g, b] = [px[i], px[i + 1], px[i + 2]];
          if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
        }
        return n;""", canvas)


def notes_outside(score, first_bar: int, last_bar: int) -> list:
    """(track, onset, duration, pitch, velocity) of notes starting outside bars
    first..last (from 1, inclusive)."""
    starts = score.bar_starts(score.end_tick() + 4 * score.ticks_per_quarter * 4)
    lo, hi = int(starts[first_bar - 1]), int(starts[last_bar])
    return sorted((t.name, *map(int, (n["onset"], n["duration"], n["pitch"], n["velocity"])))
                  for t in score.tracks for n in t.notes if not lo <= n["onset"] < hi)


def all_notes(score) -> list:
    return sorted((t.name, int(n["onset"]), int(n["pitch"])) for t in score.tracks for n in t.notes)


@pytest.mark.slow
def test_draft_listen_pick_and_regenerate_bars_in_a_browser(studio, browser, tmp_path):
    import soundfile

    import tunesmith

    driver = browser
    driver.get(studio)
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "f-bars"))

    # a damaged upload is a one-line message on the page
    garbage = tmp_path / "damaged.mid"
    garbage.write_bytes(b"MThd\x00\x00\x00\x06" + bytes(range(256)) * 4)
    driver.find_element(By.ID, "up-prompt").send_keys(str(garbage))
    WebDriverWait(driver, 120).until(lambda d: "error" in d.find_element(By.ID, "message").get_attribute("class"))
    message = driver.find_element(By.ID, "message").text
    assert ("MIDI" in message or "no notes" in message) and "\n" not in message
    assert driver.find_element(By.ID, "piece").get_attribute("hidden")

    # a bad value is a one-line message on the page, from the same checks as the CLI
    set_field(driver, "tempo", "fast")
    driver.find_element(By.ID, "draft").click()
    WebDriverWait(driver, 30).until(lambda d: "not a number" in d.find_element(By.ID, "message").text)

    for name, value in {"bars": "8", "key": "D dorian", "time_signature": "4/4", "tempo": "100",
                        "programs": "flute"}.items():
        set_field(driver, name, value)
    for summary in driver.find_elements(By.TAG_NAME, "summary"):
        summary.click()  # open the folded controls
    set_field(driver, "num_samples", "4")
    set_field(driver, "seed", "11")
    status = start_job(driver, "draft")
    assert status.startswith("done: 4 of 4"), (status, driver.find_element(By.ID, "message").text)

    cards = driver.find_elements(By.CSS_SELECTOR, "#drafts .draft")
    assert len(cards) == 4
    for card in cards:  # four piano rolls, drawn
        assert coloured_pixels(driver, card.find_element(By.TAG_NAME, "canvas")) > 200

    audio = cards[0].find_element(By.TAG_NAME, "audio")
    duration = driver.execute_async_script("""
        const [a, done] = arguments;
        a.preload = 'auto';
        a.addEventListener('loadedmetadata', () => done(a.duration), { once: true });
        a.addEventListener('error', () => done(-1), { once: true });
        a.load();""", audio)
    assert duration > 4  # 8 bars of 4/4 at 100 qpm: 19.2 s, plus the release tail
    wav, rate = soundfile.read(io.BytesIO(fetch(audio.get_attribute("src"))))
    assert abs(len(wav) / rate - duration) < 0.1 and np.sqrt(np.mean(wav ** 2)) > 0.01

    cards[0].find_element(By.CSS_SELECTOR, "button.use").click()
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "piece").is_displayed())
    assert "version 1 of 1" in driver.find_element(By.ID, "piece-version").text

    # drag across bars 3-4 of the piece's roll
    roll = driver.find_element(By.ID, "piece-roll")
    xs = driver.execute_script("""
        const r = state.roll, b = r.data.bars;
        return [r.x(b[2]) + 0.3 * (r.x(b[3]) - r.x(b[2])), r.x(b[3]) + 0.6 * (r.x(b[4]) - r.x(b[3])), r.w];""")
    centre = xs[2] / 2
    ActionChains(driver).move_to_element_with_offset(roll, int(xs[0] - centre), 0).click_and_hold() \
        .move_to_element_with_offset(roll, int(xs[1] - centre), 10).release().perform()
    assert driver.find_element(By.ID, "sel-bars").get_attribute("value") == "3-4"

    set_field(driver, "num_samples", "2")
    status = start_job(driver, "regen")
    assert status.startswith("done: 2 of 2"), (status, driver.find_element(By.ID, "message").text)
    driver.find_element(By.CSS_SELECTOR, "#drafts .draft button.use").click()
    WebDriverWait(driver, 30).until(
        lambda d: "version 2 of 2" in d.find_element(By.ID, "piece-version").text)

    link = driver.find_element(By.CSS_SELECTOR, "#piece-downloads a[data-format=mid]").get_attribute("href")
    assert "/versions/2/" in link
    for n, url in ((1, link.replace("/versions/2/", "/versions/1/")), (2, link)):
        (tmp_path / f"v{n}.mid").write_bytes(fetch(url))
    before, after = (tunesmith.read(tmp_path / f"v{n}.mid") for n in (1, 2))
    assert notes_outside(after, 3, 4) == notes_outside(before, 3, 4)
    assert len(notes_outside(before, 3, 4)) > 10
    assert notes_outside(after, 1, 8) == notes_outside(before, 1, 8) == []  # 8 bars, no more
    assert all_notes(after) != all_notes(before)  # bars 3-4 were redrafted

    xml = driver.find_element(By.CSS_SELECTOR, "#piece-downloads a[data-format=musicxml]").get_attribute("href")
    (tmp_path / "v2.musicxml").write_bytes(fetch(xml))
    import music21

    parsed = music21.converter.parse(str(tmp_path / "v2.musicxml"))
    assert len(parsed.parts) >= 1 and len(parsed.flatten().notes) > 10

    # a vocal take over the piece: its audio now holds the take too
    plain = fetch(link.replace("/mid", "/wav"))
    take = tmp_path / "take.wav"
    soundfile.write(take, 0.3 * np.sin(2 * np.pi * 330 * np.arange(44_100) / 44_100), 44_100)
    driver.find_element(By.ID, "up-vocals").send_keys(str(take))
    WebDriverWait(driver, 60).until(lambda d: "vocals: take.wav" in d.find_element(By.ID, "piece-version").text)
    with_take = driver.find_element(By.ID, "piece-audio").get_attribute("src")
    assert "vocals=" in with_take and fetch(with_take) != plain

    # the page's own JavaScript raised nothing (refused requests are logged by the browser)
    errors = [e["message"] for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
    assert errors == []

    driver.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / "studio.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if SHOT:
        shutil.copyfile(shot, Path(SHOT))
