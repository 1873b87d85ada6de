"""The room's pages in a real browser: Playwright driving the system's Chromium (`apt-get install
chromium`; never a browser of Playwright's own). The dashboard shows a record sent by a real
`check`, refreshes itself, shows a student named `<script>alert(1)</script>` as text (no dialog
opens), and the projector view has its bars and no names.

Without Chromium (or Playwright) the tests are skipped, saying why, except in CI (the environment
variable CI set), where that is a failure: .ci/run installs Chromium. With SEMINAR_SCREENSHOTS=1
the dashboard's screenshot is also written to docs/images/room-dashboard.png (README, docs/room.md).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from seminar import manifest
from seminar.manifest import REPO_ROOT
from test_room import RoomProcess

CHROMIUM = os.environ.get("SEMINAR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = REPO_ROOT / "docs" / "images" / "room-dashboard.png"
EXERCISE = "intro/hello_world"
SCRIPT_NAME = "<script>alert(1)</script>"
REAL_STUDENT = "Linus T."

pytestmark = pytest.mark.slow


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser test (.ci/run installs chromium as root)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not pathlib.Path(CHROMIUM).is_file():
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium (as root), or set "
                     f"SEMINAR_CHROMIUM to its path")
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        _unavailable("playwright is not installed: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        # as root (CI, containers) Chromium runs only without its sandbox; a container's small
        # /dev/shm would crash its pages
        args = ["--disable-dev-shm-usage"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


# Simulated students, to fill the screenshot: (name, [(exercise, passed, kind, cause, metrics, age)])
SHAPE = "the logits have shape (64, 1); inference() must return one score per class, (64, 10)"
SIMULATED = [
    ("Ada L.", [("intro/hello_world", True, "ran", None, {"fraction_correct": 1.0}, 2400),
                ("intro/math_ops", True, "ran", None, {"fraction_correct": 1.0}, 1900),
                ("sgd/linear_regression", True, "ran", None, {"sgd_coef_rel_error": 0.004}, 1100),
                ("sgd/binary_classif", True, "ran", None, {"test_accuracy": 0.97}, 500),
                ("neural_nets/softmax", False, "ran", SHAPE, {}, 40)]),
    ("Alan T.", [("intro/hello_world", True, "ran", None, {"fraction_correct": 1.0}, 2500),
                 ("intro/math_ops", True, "ran", None, {"fraction_correct": 1.0}, 2000),
                 ("sgd/linear_regression", False, "todo", "TODO open in gradient_descent()", {}, 1300)]),
    ("Grace H.", [("intro/hello_world", True, "ran", None, {"fraction_correct": 1.0}, 2300),
                  ("intro/math_ops", True, "ran", None, {"fraction_correct": 1.0}, 2100),
                  ("sgd/linear_regression", True, "ran", None, {"sgd_coef_rel_error": 0.01}, 1500),
                  ("sgd/binary_classif", True, "ran", None, {"test_accuracy": 0.96}, 900),
                  ("neural_nets/softmax", True, "ran", None, {"test_accuracy": 0.92}, 300),
                  ("neural_nets/mlp", False, "ran", "the training loss does not decrease", {}, 20)]),
    ("Katherine J.", [("intro/hello_world", True, "ran", None, {"fraction_correct": 1.0}, 2600),
                      ("intro/math_ops", False, "error", "TypeError: Cannot convert 2.5 to EagerTensor "
                                                         "of dtype int32", {}, 1700)]),
    ("Edsger D.", [("intro/hello_world", True, "ran", None, {"fraction_correct": 1.0}, 2000),
                   ("intro/math_ops", True, "ran", None, {"fraction_correct": 1.0}, 1600),
                   ("sgd/linear_regression", True, "ran", None, {"sgd_coef_rel_error": 0.002}, 1000),
                   ("sgd/binary_classif", False, "ran", SHAPE.replace("inference()", "predict()"),
                    {"test_accuracy": 0.5}, 200),
                   ("neural_nets/softmax", False, "ran", SHAPE, {}, 100)]),
    (SCRIPT_NAME, [("intro/hello_world", False, "todo", "<img src=x onerror=alert(2)>", {}, 700)]),
]


def simulate(room: RoomProcess) -> None:
    for name, records in SIMULATED:
        token = room.join(name)
        for seq, (exercise, passed, kind, cause, metrics, age) in enumerate(records, 1):
            status, answer = room.post(token, seq, exercise, passed=passed, kind=kind, cause=cause,
                                       metrics=metrics, age=float(age))
            assert status == 201, answer


def real_check(room: RoomProcess, progress_dir: pathlib.Path) -> subprocess.CompletedProcess:
    """`python -m seminar join ...` then `check intro/hello_world` (its untouched skeleton), as a
    student types them, with the progress and room files in a scratch folder."""
    code = (
        "import pathlib, sys\n"
        "from seminar.tools import cli, progress\n"
        f"progress.PROGRESS_PATH = pathlib.Path({str(progress_dir / '.seminar-progress.json')!r})\n"
        f"assert cli.main(['join', {room.address!r}, {room.code!r}, '--name', {REAL_STUDENT!r}]) == 0\n"
        f"sys.exit(cli.main(['check', {EXERCISE!r}]))\n")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    started = RoomProcess(tmp_path_factory.mktemp("room-browser"))
    simulate(started)
    yield started
    started.stop()


def test_the_dashboard_shows_a_real_check_live_and_names_as_text(browser, room, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{room.address}/dashboard#key={room.key}")
    page.wait_for_selector("th.student")
    assert page.text_content("#code") == room.code

    # A real check, after the page is open: the page picks it up by itself.
    checked = real_check(room, tmp_path)
    assert checked.returncode == 1 and checked.stdout.rstrip().endswith(f"FAIL {EXERCISE}"), \
        checked.stdout + checked.stderr
    row = page.locator("tr", has=page.locator("th.student", has_text=REAL_STUDENT))
    row.wait_for(timeout=10000)
    column = [e.id for e in manifest.load().exercises].index(EXERCISE)
    cell = row.locator("td.cell").nth(column)
    assert "cell-fail" in cell.get_attribute("class")
    assert "TODO open in greeting()" in cell.get_attribute("title")
    assert page.locator("#causes").get_by_text("TODO open in greeting()").count() >= 1

    # The script-named student and the HTML-looking cause are text; nothing ran.
    assert page.locator("th.student").get_by_text(SCRIPT_NAME, exact=True).count() == 1
    assert page.locator("#causes").get_by_text("<img src=x onerror=alert(2)>").count() == 1
    assert page.evaluate("document.querySelectorAll('main script, main img').length") == 0
    assert dialogs == [], "rendered twice at least (before and after the real check): nothing ran"

    # Who fails longest, longest first (Katherine's error is the oldest failing record).
    assert page.locator("#stuck .bar-line strong").first.text_content() == "Katherine J."

    page.screenshot(path=str(tmp_path / "room-dashboard.png"), full_page=True)
    assert (tmp_path / "room-dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SEMINAR_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "room-dashboard.png", SCREENSHOT)
    page.close()


def test_the_projector_view_has_bars_and_no_names(browser, room):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{room.address}/projector#key={room.projector_key}")
    page.wait_for_selector(".projector-line")
    exercises = manifest.load().exercises
    assert page.locator(".projector-line").count() == len(exercises)
    first = page.locator(".projector-line").first  # intro/hello_world: 5 of the simulated passed
    width = first.locator(".fill.pass").evaluate("node => node.getBoundingClientRect().width")
    track = first.locator(".track").evaluate("node => node.getBoundingClientRect().width")
    assert 0 < width < track
    assert first.locator(".count").text_content().startswith("5 / ")
    text = page.evaluate("document.body.innerText")
    for name, _ in SIMULATED:
        assert name not in text
    assert REAL_STUDENT not in text and "alert" not in text
    page.close()


def test_a_page_without_its_key_says_what_to_do(browser, room):
    page = browser.new_page()
    page.goto(f"{room.address}/dashboard")
    assert "needs its key" in page.text_content("#problem")
    page.goto(f"{room.address}/dashboard#key={room.projector_key}")
    page.reload()
    page.wait_for_function("document.getElementById('problem').textContent.includes('wrong key')")
    assert page.locator("th.student").count() == 0
    page.close()
