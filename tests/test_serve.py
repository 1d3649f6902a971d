"""The server: every endpoint, every bad request (4xx + one JSON error, and it keeps serving),
dynamic batching, and the page end to end in headless Chromium."""
from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server needs fastapi (pip install fastapi uvicorn httpx)")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import run_cli  # noqa: E402
from interlingua.serve import create_app, listen  # noqa: E402


class Counting:
    """Wraps a translator and records every model call (what dynamic batching should save)."""

    def __init__(self, translator, delay: float = 0.0):
        self.inner, self.delay = translator, delay
        self.calls: list[tuple[str, int, tuple[str, ...]]] = []

    @property
    def languages(self):
        return self.inner.languages

    def translate(self, sentences, to, beam=1):
        self.calls.append(("translate", len(sentences), tuple(to)))
        time.sleep(self.delay)
        return self.inner.translate(sentences, to=to, beam=beam)

    def embed(self, sentences):
        self.calls.append(("embed", len(sentences), ()))
        return self.inner.embed(sentences)


@pytest.fixture(scope="module")
def translator(tiny_run):
    from interlingua import Translator
    return Translator.load(tiny_run)


@pytest.fixture(scope="module")
def client(translator):
    with TestClient(create_app(translator, name="tiny", max_sentences=8, max_chars=200)) as c:
        yield c


# ----------------------------------------------------------------------------- endpoints

def test_health_and_languages(client, translator):
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "model": "tiny", "languages": translator.languages}
    assert client.get("/languages").json() == {"languages": translator.languages}


def test_translate_into_several_languages_matches_the_library(client, translator):
    response = client.post("/translate", json={"text": ["Open the file", "Close"], "to": ["fr", "de"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [t["to"] for t in body["translations"]] == ["fr", "de"]
    expected = translator.translate(["Open the file", "Close"], to=["fr", "de"])
    for item in body["translations"]:
        assert item["text"] == expected[item["to"]]


def test_translate_accepts_a_single_string_a_comma_list_and_a_beam(client, translator):
    body = client.post("/translate", json={"text": "Open the file", "to": "de,fr", "beam": 2}).json()
    assert [t["to"] for t in body["translations"]] == ["de", "fr"]
    assert body["translations"][0]["text"] == translator.translate(["Open the file"], to="de", beam=2)


def test_embed_and_similarity(client, translator):
    body = client.post("/embed", json={"text": ["Open file", "Datei öffnen"]}).json()
    vectors = np.array(body["vectors"], dtype=np.float32)
    assert vectors.shape == (2, body["dim"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors, translator.embed(["Open file", "Datei öffnen"]), atol=1e-5)
    similarity = client.post("/similarity", json={"a": "Open file", "b": "Datei öffnen"}).json()["similarity"]
    assert similarity == pytest.approx(float(translator.similarity(["Open file"], ["Datei öffnen"])[0]), abs=1e-4)


def test_page_docs_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="translate"' in page.text and 'id="similarity"' in page.text
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/languages", "/translate", "/embed", "/similarity"} <= set(paths)


# ----------------------------------------------------------------------------- bad requests

BAD = [
    ("malformed JSON", dict(content=b'{"text": ["a"], to', headers={"content-type": "application/json"}), 400,
     "malformed JSON"),
    ("not an object", dict(json=["Open"]), 422, "JSON object"),
    ("no body", dict(), 422, "JSON object"),
    ("unknown language", dict(json={"text": ["Open"], "to": ["fr", "xx"]}), 422, "unknown target language 'xx'"),
    ("no language", dict(json={"text": ["Open"], "to": []}), 422, "to is empty"),
    ("missing field", dict(json={"text": ["Open"]}), 422, "to: missing"),
    ("empty list", dict(json={"text": [], "to": ["fr"]}), 422, "text is empty"),
    ("empty sentence", dict(json={"text": ["Open", "  "], "to": ["fr"]}), 422, "text[1] is empty"),
    ("over-long sentence", dict(json={"text": ["x" * 201], "to": ["fr"]}), 413, "too long: 201 characters"),
    ("too many sentences", dict(json={"text": ["Open"] * 9, "to": ["fr"]}), 413, "too many sentences: 9"),
    ("not strings", dict(json={"text": [1], "to": ["fr"]}), 422, "text[0]: must be a string"),
    ("bad beam", dict(json={"text": ["Open"], "to": ["fr"], "beam": 99}), 422, "beam must be between"),
    ("unknown field", dict(json={"text": ["Open"], "to": ["fr"], "target": "de"}), 422, "target: unknown field"),
]


@pytest.mark.parametrize("name, request_kwargs, status, needle", BAD, ids=[b[0] for b in BAD])
def test_bad_translate_requests_get_a_clear_error_and_the_server_keeps_serving(client, name, request_kwargs, status,
                                                                               needle):
    response = client.post("/translate", **request_kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and needle in body["error"], body
    assert client.post("/translate", json={"text": ["Open"], "to": ["fr"]}).status_code == 200


def test_bad_embed_similarity_and_routes(client):
    for path, payload, needle in [("/embed", {"text": []}, "text is empty"), ("/embed", {"txt": ["a"]}, "text: missing"),
                                  ("/similarity", {"a": "", "b": "x"}, "a is empty"),
                                  ("/similarity", {"a": "x"}, "b: missing"),
                                  ("/similarity", {"a": "x" * 500, "b": "y"}, "a is too long")]:
        response = client.post(path, json=payload)
        assert 400 <= response.status_code < 500 and needle in response.json()["error"], response.text
    assert client.get("/nowhere").json() == {"error": "no such endpoint: /nowhere"}
    assert client.get("/translate").status_code == 405 and "error" in client.get("/translate").json()
    assert client.get("/health").status_code == 200


def test_a_model_failure_is_a_500_with_json_and_the_server_survives(translator):
    class Flaky(Counting):
        def translate(self, sentences, to, beam=1):
            if "boom" in sentences:
                raise RuntimeError("model exploded")
            return super().translate(sentences, to, beam)
    with TestClient(create_app(Flaky(translator)), raise_server_exceptions=False) as c:
        response = c.post("/translate", json={"text": ["boom"], "to": ["fr"]})
        assert response.status_code == 500 and "model exploded" in response.json()["error"]
        assert c.post("/translate", json={"text": ["Open"], "to": ["fr"]}).status_code == 200


# ----------------------------------------------------------------------------- dynamic batching

def concurrent_posts(app, payloads: list[dict]) -> list:
    import httpx

    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is an answer, not a crash
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await asyncio.gather(*(c.post(path, content=body, headers={"content-type": "application/json"})
                                          if isinstance(body, bytes) else c.post(path, json=body)
                                          for path, body in payloads))
    try:
        return asyncio.run(go())
    finally:
        app.state.batcher.stop()


def test_concurrent_requests_share_one_model_call(translator):
    model = Counting(translator)
    app = create_app(model, max_batch=64, max_wait_ms=300)
    sentences = ["Open the file", "Close", "Save", "Quit", "Print", "Copy", "Paste", "Undo"]
    responses = concurrent_posts(app, [("/translate", {"text": [s], "to": ["fr", "de"]}) for s in sentences])
    assert all(r.status_code == 200 for r in responses)
    assert model.calls == [("translate", 8, ("de", "fr"))]  # 8 requests, 1 model call
    alone = translator.translate(sentences, to=["fr", "de"])
    for sentence, response in zip(sentences, responses):
        assert {t["to"]: t["text"] for t in response.json()["translations"]} == \
            {"fr": [alone["fr"][sentences.index(sentence)]], "de": [alone["de"][sentences.index(sentence)]]}


def test_batches_group_by_languages_and_beam_and_respect_max_batch(translator):
    model = Counting(translator)
    app = create_app(model, max_batch=64, max_wait_ms=300)
    payloads = [("/translate", {"text": ["Open"], "to": ["fr"]}), ("/translate", {"text": ["Close"], "to": ["fr"]}),
                ("/translate", {"text": ["Open"], "to": ["de"]}), ("/translate", {"text": ["Open"], "to": ["fr"], "beam": 2}),
                ("/embed", {"text": ["Open", "Close"]}), ("/similarity", {"a": "Open", "b": "Ouvrir"})]
    assert all(r.status_code == 200 for r in concurrent_posts(app, payloads))
    assert sorted(model.calls) == sorted([("translate", 2, ("fr",)), ("translate", 1, ("de",)),
                                          ("translate", 1, ("fr",)), ("embed", 3, ())])  # "Open" embedded once
    model = Counting(translator)
    app = create_app(model, max_batch=1, max_wait_ms=300)  # batching off: one call per request
    responses = concurrent_posts(app, [("/translate", {"text": [s], "to": ["fr"]}) for s in ("a b", "c d", "e f")])
    assert all(r.status_code == 200 for r in responses) and len(model.calls) == 3


# ----------------------------------------------------------------------------- one request never hurts another

def test_bad_requests_never_join_a_batch_and_the_good_ones_beside_them_answer(translator):
    model = Counting(translator)
    app = create_app(model, max_batch=64, max_wait_ms=300)
    good = ["Open the file", "Close", "Save", "Quit"]
    bad = [(b'{"text": ["Open", "\\ud800"], "to": ["fr"]}', 422, "text[1] is not valid Unicode"),
           (b'{"text": ["Open"], "to": ["fr"], "beam": 0}', 422, "beam must be between 1 and"),
           (b'{"text": ["Open"], "to": ["fr"], "beam": 1000}', 422, "beam must be between 1 and"),
           (b'{"text": ["Open"], "to": []}', 422, "to is empty"),
           (b'{"text": "Open", "to": 3}', 422, "to: must be a string or a list"),
           (b'{"text": [["Open"]], "to": ["fr"]}', 422, "text[0]: must be a string"),
           (b'{"text": ["Open"], "to": ["\\udfff"]}', 422, "unknown target language")]
    payloads = [("/translate", {"text": [s], "to": ["fr"]}) for s in good[:2]] + [("/translate", b) for b, _, _ in bad]
    payloads += [("/translate", {"text": [s], "to": ["fr"]}) for s in good[2:]]
    responses = concurrent_posts(app, payloads)
    answers = [responses[0], responses[1], *responses[-2:]]
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    alone = translator.translate(good, to="fr")
    assert [r.json()["translations"][0]["text"][0] for r in answers] == alone
    for response, (_, status, needle) in zip(responses[2:-2], bad):
        assert response.status_code == status and needle in response.json()["error"], response.text
    assert model.calls == [("translate", 4, ("fr",))]  # the good ones together, the bad ones never in a batch


def test_a_failure_inside_a_batch_fails_only_the_request_that_caused_it(translator):
    class Flaky(Counting):  # an input that passes every check and still breaks the model
        def translate(self, sentences, to, beam=1):
            if "boom" in sentences:
                raise RuntimeError("model exploded")
            return super().translate(sentences, to, beam)
    model = Flaky(translator)
    app = create_app(model, max_batch=64, max_wait_ms=300)
    texts = ["Open", "boom", "Close", "Save"]
    responses = concurrent_posts(app, [("/translate", {"text": [t], "to": ["fr"]}) for t in texts])
    assert [r.status_code for r in responses] == [200, 500, 200, 200], [r.text for r in responses]
    assert "model exploded" in responses[1].json()["error"]
    assert [r.json()["translations"][0]["text"][0] for r in responses if r.status_code == 200] == \
        translator.translate(["Open", "Close", "Save"], to="fr")


def test_a_full_queue_answers_503_with_retry_after_and_then_serves_again(translator):
    model = Counting(translator, delay=1.0)
    app = create_app(model, max_batch=1, max_wait_ms=0, max_queue=2)
    responses = concurrent_posts(app, [("/translate", {"text": [f"Open {i}"], "to": ["fr"]}) for i in range(6)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 503, 503, 503, 503], [r.text for r in responses]
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] == "1" and "busy" in busy.json()["error"]
    model.delay = 0.0
    assert concurrent_posts(app, [("/translate", {"text": ["Open"], "to": ["fr"]})])[0].status_code == 200


# ----------------------------------------------------------------------------- the CLI (once it is wired)

@pytest.mark.parametrize("option, value", [("--port", "70000"), ("--port", "-1"), ("--max-batch", "0"),
                                           ("--max-queue", "0"), ("--max-chars", "0")])
def test_impossible_server_settings_are_one_line_errors(tiny_run, option, value):
    from conftest import assert_clean_error
    assert_clean_error(run_cli("serve", "--model", str(tiny_run), option, value, timeout=60), option, value)


def test_a_busy_port_is_a_one_line_error():
    from interlingua.errors import InterlinguaError
    first = listen("127.0.0.1", 0)
    try:
        with pytest.raises(InterlinguaError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            listen("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


def test_cli_serve_help():
    out = run_cli("serve", "--help").stdout.decode()
    assert "--model" in out and "--port" in out and "--host" in out


# ----------------------------------------------------------------------------- the page in a real browser

def _chromium() -> tuple[str, str]:
    """(chromium, chromedriver) or a skip that says what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("browser test needs selenium (pip install selenium)")
    browser = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                                "/usr/bin/chromium") if p and Path(p).exists()), None)
    driver = next((p for p in (os.environ.get("CHROMEDRIVER"), shutil.which("chromedriver"), "/usr/bin/chromedriver")
                   if p and Path(p).exists()), None)
    if not browser or not driver:
        pytest.skip("no headless Chromium: apt-get install -y chromium chromium-driver "
                    f"(found browser={browser}, driver={driver})")
    return browser, driver


@pytest.fixture
def live_server(translator):
    """The app under uvicorn on 127.0.0.1, a free port, in a thread."""
    uvicorn = pytest.importorskip("uvicorn")
    sock = listen("127.0.0.1", 0)
    app = create_app(translator, name="tiny")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.mark.slow
def test_page_in_headless_chromium(live_server, translator, tmp_path):
    browser, driver_path = _chromium()
    import httpx
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1100,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    try:
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    except Exception as exc:  # a browser that cannot start here is an environment problem, said plainly
        pytest.skip(f"headless Chromium did not start: {str(exc).splitlines()[0]}")
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(live_server + "/")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        boxes = {b.get_attribute("value"): b for b in driver.find_elements(By.CSS_SELECTOR, "#languages input")}
        assert set(boxes) == set(translator.languages)
        for lang, box in boxes.items():  # pick exactly fr and de
            if box.is_selected() != (lang in ("fr", "de")):
                box.click()
        source = driver.find_element(By.ID, "source")
        source.clear()
        source.send_keys("Open the file")
        driver.find_element(By.ID, "translate").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#out-fr .translation")))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#out-de .translation")))
        columns = [c.get_attribute("data-lang") for c in driver.find_elements(By.CSS_SELECTOR, "#results .column")]
        api = httpx.post(live_server + "/translate", json={"text": ["Open the file"], "to": columns}).json()
        shown = {lang: driver.find_element(By.CSS_SELECTOR, f"#out-{lang} .translation").get_attribute("textContent")
                 for lang in columns}
        assert sorted(columns) == ["de", "fr"]
        assert shown == {t["to"]: t["text"][0] for t in api["translations"]}
        driver.find_element(By.ID, "sim-a").clear()
        driver.find_element(By.ID, "sim-a").send_keys("Open file")
        driver.find_element(By.ID, "sim-b").clear()
        driver.find_element(By.ID, "sim-b").send_keys("Datei öffnen")
        driver.find_element(By.ID, "similarity").click()
        wait.until(lambda d: d.find_element(By.ID, "sim-score").get_attribute("data-value"))
        value = float(driver.find_element(By.ID, "sim-score").get_attribute("data-value"))
        assert value == pytest.approx(float(translator.similarity(["Open file"], ["Datei öffnen"])[0]), abs=1e-3)
        assert driver.find_element(By.ID, "error").text == ""
        if os.environ.get("INTERLINGUA_SCREENSHOT"):
            driver.save_screenshot(os.environ["INTERLINGUA_SCREENSHOT"])
    finally:
        driver.quit()
