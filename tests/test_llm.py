"""The optional LLM backend against a loopback server speaking the chat-completions API."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from digest.config import LLMSection, SummarizeSection
from digest.summarize import summarize_story
from tests.test_summarize import seed_story

GOOD = {
    "headline": "DeepSeek's cheap AI model rattles Nvidia",
    "rundown": "Chinese startup DeepSeek released R1, a model it says cost $5.6 million to train.",
    "details": [
        "Nvidia lost $593 billion in market value on Monday.",
        "DeepSeek's app became the top iPhone download in the U.S.",
        "DeepSeek trained its model on Nvidia's H800 chips.",
    ],
    "why_it_matters": "Cheaper models could reshape global AI development.",
}


class FakeLLM:
    """A chat-completions endpoint on 127.0.0.1 whose next answer a test sets."""

    def __init__(self) -> None:
        self.answer: object = GOOD
        self.status = 200
        self.stall = threading.Event()  # set by the test: stop stalling
        self.stalling = False
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if fake.stalling:
                    fake.stall.wait(10)
                content = fake.answer if isinstance(fake.answer, str) else json.dumps(fake.answer)
                payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/chat/completions"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    fake.thread.start()
    yield fake
    fake.stall.set()
    fake.server.shutdown()
    fake.server.server_close()


def run(fake: FakeLLM, **llm_settings):
    settings = LLMSection(endpoint=fake.url, model="test-model", **llm_settings)
    story = seed_story()
    return story, summarize_story(story, SummarizeSection(backend="llm"), max_points=5, min_points=3, llm=settings)


def extractive():
    return summarize_story(seed_story(), SummarizeSection(), max_points=5, min_points=3)


def test_checked_llm_output_replaces_the_extractive_text(llm):
    _, s = run(llm)
    assert s.headline == GOOD["headline"]
    assert s.rundown == GOOD["rundown"]
    assert [p.text for p in s.details] == GOOD["details"]
    assert s.why_it_matters == GOOD["why_it_matters"]
    assert llm.requests[0]["model"] == "test-model"
    assert "DeepSeek" in llm.requests[0]["messages"][1]["content"]


def test_llm_points_are_attributed_to_the_articles_that_hold_their_facts(llm):
    _, s = run(llm)
    market = s.details[0]  # "$593 billion" (seed 0), "$600 billion" (seed 3, within rounding)
    assert market.article_ids == ("seed0", "seed3")


def test_a_point_with_a_number_no_article_holds_is_replaced_by_an_extractive_one(llm):
    llm.answer = dict(GOOD, details=["Nvidia lost $750 billion in market value on Monday.", *GOOD["details"][1:]])
    _, s = run(llm)
    texts = [p.text for p in s.details]
    assert "Nvidia lost $750 billion in market value on Monday." not in texts
    assert texts[0] == extractive().details[0].text
    assert texts[1:] == GOOD["details"][1:]


def test_a_name_no_article_holds_is_refused(llm):
    llm.answer = dict(GOOD, headline="Huang and Musk react to DeepSeek", why_it_matters="Tesla will cut prices.")
    _, s = run(llm)
    assert s.headline == extractive().headline
    assert s.why_it_matters == extractive().why_it_matters


def test_a_timeout_falls_back_to_the_extractive_summary_and_logs_it(llm, caplog):
    llm.stalling = True
    with caplog.at_level(logging.WARNING, logger="digest.summarize.llm"):
        _, s = run(llm, timeout_seconds=0.3)
    assert s == extractive()
    assert "timed out" in caplog.text


def test_an_http_error_falls_back_to_the_extractive_summary(llm, caplog):
    llm.status = 500
    with caplog.at_level(logging.WARNING, logger="digest.summarize.llm"):
        _, s = run(llm)
    assert s == extractive()
    assert "HTTP 500" in caplog.text


def test_an_answer_that_is_not_json_falls_back(llm, caplog):
    llm.answer = "Sorry, I cannot help with that."
    with caplog.at_level(logging.WARNING, logger="digest.summarize.llm"):
        _, s = run(llm)
    assert s == extractive()
    assert "no JSON object" in caplog.text


def test_a_fenced_json_answer_is_accepted(llm):
    llm.answer = "```json\n" + json.dumps(GOOD) + "\n```"
    _, s = run(llm)
    assert s.headline == GOOD["headline"]


def test_the_api_key_is_sent_from_the_named_environment_variable(llm, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test-123")
    run(llm, api_key_env="TEST_LLM_KEY")
    assert llm.headers[0]["Authorization"] == "Bearer sk-test-123"


def test_a_missing_api_key_falls_back_without_calling_the_endpoint(llm, monkeypatch, caplog):
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="digest.summarize.llm"):
        _, s = run(llm, api_key_env="TEST_LLM_KEY")
    assert s == extractive()
    assert llm.requests == []
    assert "TEST_LLM_KEY" in caplog.text


def test_llm_config_keys_are_validated(make_config):
    from digest.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_config(llm={"endpoint": "localhost:11434", "api_key_env": "MY KEY", "model": " "})
    message = str(err.value)
    assert "[llm].endpoint: expected an http(s) URL, got 'localhost:11434'" in message
    assert "[llm].api_key_env: expected an environment variable name, got 'MY KEY'" in message
    assert "[llm].model: must not be empty" in message
