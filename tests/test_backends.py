"""Generation backends: the packaged GGUF (joined once), the local model, an OpenAI-compatible
server (llama-cpp-python's own, started on loopback) and the backend factory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.backends import local_model
from assistant.backends.base import BackendUnavailable
from assistant.backends.factory import available_backends, make_generator
from assistant.backends.local import LocalGenerator, make_local_generator
from assistant.backends.local_model import (
    MODEL_SHA256,
    MODEL_SIZE,
    ensure_local_model,
    joined_model_path,
)
from assistant.backends.openai_compat import display_url, make_openai_generator
from s3assist.settings import Settings

SYSTEM = "Answer in one sentence using only the sources. Cite sources as [1]."
SOURCE_QUESTION = (
    "Sources:\n[1] The Lithuanian smart specialisation strategy has six priority areas, "
    "including agro-innovation and food technologies.\n\n"
    "Question: How many priority areas does the Lithuanian strategy have?"
)
THREADS = os.cpu_count() or 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir whose cache holds the joined packaged model (joined once per session)."""
    data_dir = tmp_path_factory.mktemp("llm") / "data"
    started = time.perf_counter()
    path = ensure_local_model(Settings(data_dir=data_dir))
    print(f"\njoin + verify: {time.perf_counter() - started:.1f} s -> {path}")
    yield data_dir
    path.unlink()  # pytest keeps old temp dirs: don't leave 1.1 GB behind each session


def llm_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "llm_max_tokens": 40,
        "local_n_ctx": 2048,
        "local_threads": THREADS,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class TestLocalModelFile:
    @pytest.mark.slow
    def test_join_verifies_and_is_done_once(self, model_dir: Path) -> None:
        settings = Settings(data_dir=model_dir)
        path = joined_model_path(settings)
        assert path.stat().st_size == MODEL_SIZE
        assert path.with_name(path.name + ".sha256").read_text().strip() == MODEL_SHA256
        with path.open("rb") as f:
            assert f.read(4) == b"GGUF"
        mtime = path.stat().st_mtime_ns
        started = time.perf_counter()
        assert ensure_local_model(settings) == path
        assert time.perf_counter() - started < 0.5  # size + sidecar, no re-hash
        assert path.stat().st_mtime_ns == mtime
        leftovers = {p.name for p in path.parent.iterdir()}
        assert leftovers == {path.name, path.name + ".sha256"}  # no temp files left behind

    def test_missing_parts_say_how_to_install(self, settings, monkeypatch) -> None:
        monkeypatch.setattr(local_model, "PART_PACKAGE", "no_such_model_part{i}")
        with pytest.raises(BackendUnavailable, match=r"pip install -e '\.\[llm\]'") as info:
            ensure_local_model(settings)
        assert "no-such-model-part1" in str(info.value)
        assert "(+19 more)" in str(info.value)

    def test_bad_checksum_is_refused_and_nothing_is_kept(
        self, settings, tmp_path, monkeypatch
    ) -> None:
        parts = []
        for i in range(2):
            part = tmp_path / f"part{i:02d}.bin"
            part.write_bytes(b"GGUF not really a model" * (i + 1))
            parts.append(part)
        monkeypatch.setattr(local_model, "part_paths", lambda: parts)
        with pytest.raises(BackendUnavailable, match=r"corrupt.*sha256") as info:
            ensure_local_model(settings)
        assert MODEL_SHA256 in str(info.value)
        folder = joined_model_path(settings).parent
        assert list(folder.iterdir()) == []

    def test_missing_local_model_path(self, tmp_path) -> None:
        settings = Settings(data_dir=tmp_path, local_model_path=tmp_path / "nope.gguf")
        with pytest.raises(BackendUnavailable, match=r"not found.*nope\.gguf"):
            ensure_local_model(settings)

    def test_corrupt_local_model_path(self, tmp_path) -> None:
        bad = tmp_path / "bad.gguf"
        bad.write_bytes(b"<html>404 not found</html>")
        settings = Settings(data_dir=tmp_path, local_model_path=bad)
        with pytest.raises(BackendUnavailable, match="not a GGUF"):
            make_local_generator(settings)

    def test_truncated_gguf_fails_to_load(self, tmp_path) -> None:
        bad = tmp_path / "truncated.gguf"
        bad.write_bytes(b"GGUF" + b"\x00" * 64)
        settings = Settings(data_dir=tmp_path, local_model_path=bad)
        with pytest.raises(BackendUnavailable, match="could not load the local model"):
            make_local_generator(settings)


@pytest.mark.slow
class TestLocalGenerator:
    def test_streams_an_answer_from_the_source(self, model_dir: Path) -> None:
        generator = make_local_generator(llm_settings(model_dir))
        chunks = list(generator.stream(SYSTEM, SOURCE_QUESTION))
        answer = "".join(chunks)
        assert len(chunks) > 1  # streamed, not one block
        assert "six" in answer.lower() or "6" in answer

    def test_answers_do_not_depend_on_the_previous_question(self, model_dir: Path) -> None:
        generator = make_local_generator(llm_settings(model_dir, llm_max_tokens=24))
        first = "".join(generator.stream(SYSTEM, SOURCE_QUESTION))
        "".join(generator.stream(SYSTEM, "Sources:\n[1] Finland has 19 regions.\n\nQuestion: Hi?"))
        assert "".join(generator.stream(SYSTEM, SOURCE_QUESTION)) == first

    def test_system_prompt_is_evaluated_once(self, model_dir: Path, monkeypatch) -> None:
        """The KV cache is cut back to exactly the system prefix: later answers evaluate only
        the user part, and never a prefix that reaches into the previous question."""
        generator = make_local_generator(llm_settings(model_dir, llm_max_tokens=16))
        llama = generator.model.chat_model.client
        prefix = generator.model.prefix_tokens(SYSTEM)
        assert len(prefix) > 10
        starts: list[int] = []
        real_eval = llama.eval

        def spy(tokens):  # type: ignore[no-untyped-def]
            starts.append(llama.n_tokens)
            return real_eval(tokens)

        monkeypatch.setattr(llama, "eval", spy)
        other = "Sources:\n[1] Finland has 19 regions.\n\nQuestion: How many regions?"
        prefix_evals = 0
        for user in (SOURCE_QUESTION, other, SOURCE_QUESTION):
            starts.clear()
            "".join(generator.stream(SYSTEM, user))
            if starts[0] == 0:  # the prefix itself, evaluated when not cached
                prefix_evals += 1
                starts.pop(0)
            assert starts[0] == len(prefix), starts  # the rest of the prompt follows it
        assert prefix_evals <= 1
        assert list(llama.input_ids[: len(prefix)]) == prefix

    def test_model_is_loaded_once(self, model_dir: Path) -> None:
        first = make_local_generator(llm_settings(model_dir))
        second = make_local_generator(llm_settings(model_dir, llm_max_tokens=16))
        assert second.model is first.model
        assert second.model.chat_model.client is first.model.chat_model.client
        assert isinstance(make_generator(llm_settings(model_dir), "local"), LocalGenerator)

    def test_generation_holds_the_model_lock(self, model_dir: Path) -> None:
        generator = make_local_generator(llm_settings(model_dir, llm_max_tokens=16))
        stream = generator.stream(SYSTEM, "Say hello.")
        assert next(stream)
        assert generator.model.lock.locked()
        stream.close()  # abandoning a stream releases the model
        assert not generator.model.lock.locked()


@pytest.fixture(scope="session")
def llama_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on loopback; yields its /v1 base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    model = joined_model_path(Settings(data_dir=model_dir))
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
        "--n_threads", str(THREADS),
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server not ready in 120 s: {log.read_text()[-2000:]}")
                time.sleep(0.5)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class TestOpenAIGenerator:
    def test_needs_a_base_url(self, settings) -> None:
        with pytest.raises(BackendUnavailable, match="S3ASSIST_OPENAI_BASE_URL"):
            make_openai_generator(settings)

    def test_unreachable_server_is_reported_without_the_key(self, tmp_path) -> None:
        settings = Settings(
            data_dir=tmp_path,
            openai_base_url=f"http://127.0.0.1:{_free_port()}/v1",
            openai_api_key="sk-secret-123",  # type: ignore[arg-type]
            openai_timeout_s=5,
        )
        generator = make_openai_generator(settings)
        with pytest.raises(BackendUnavailable, match="openai backend failed") as info:
            list(generator.stream(SYSTEM, "hello"))
        message = str(info.value)
        assert "Connection" in message and "127.0.0.1" in message
        assert "sk-secret-123" not in message
        assert "sk-secret-123" not in repr(generator.chat_model)

    def test_a_key_echoed_by_the_server_is_masked(self, tmp_path) -> None:
        secret = "sk-secret-123"
        generator = make_openai_generator(
            Settings(
                data_dir=tmp_path,
                openai_base_url="http://127.0.0.1:1/v1",
                openai_api_key=secret,  # type: ignore[arg-type]
            )
        )

        class Echo:
            def stream(self, messages):  # type: ignore[no-untyped-def]
                raise RuntimeError(f"401 Incorrect API key provided: {secret}")
                yield

        generator._inner.chat_model = Echo()
        with pytest.raises(BackendUnavailable) as info:
            list(generator.stream(SYSTEM, "hello"))
        assert secret not in str(info.value) and "***" in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__

    def test_display_url_hides_credentials(self) -> None:
        url = "https://user:pw@example.org:8443/v1?api-key=abc#x"
        assert display_url(url) == "https://example.org:8443/v1"

    @pytest.mark.slow
    def test_streams_from_a_real_server(self, llama_server: str, model_dir: Path) -> None:
        settings = llm_settings(model_dir, openai_base_url=llama_server, openai_model="local")
        generator = make_openai_generator(settings)
        chunks = list(generator.stream(SYSTEM, SOURCE_QUESTION))
        answer = "".join(chunks)
        assert len(chunks) > 1
        assert "six" in answer.lower() or "6" in answer

    @pytest.mark.slow
    def test_answer_length_is_capped_at_the_server(self, llama_server: str, model_dir) -> None:
        settings = llm_settings(
            model_dir, openai_base_url=llama_server, openai_model="local", llm_max_tokens=16
        )
        answer = "".join(
            make_openai_generator(settings).stream("", "Count from 1 to 300, comma-separated.")
        )
        assert answer and len(answer) < 100  # 16 tokens, not 300 numbers

    @pytest.mark.slow
    def test_official_openai_client(self, llama_server: str) -> None:
        import openai

        client = openai.OpenAI(base_url=llama_server, api_key="x", max_retries=0)
        models = client.models.list()
        assert models.data
        completion = client.chat.completions.create(
            model=models.data[0].id,
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": SOURCE_QUESTION},
            ],
            max_tokens=30,
            temperature=0,
        )
        answer = completion.choices[0].message.content or ""
        assert "six" in answer.lower() or "6" in answer
        assert completion.usage is not None and completion.usage.completion_tokens <= 30


class TestFactory:
    def test_extractive_needs_no_generator(self, settings) -> None:
        assert make_generator(settings) is None
        assert make_generator(settings, "extractive") is None

    def test_unknown_backend(self, settings) -> None:
        with pytest.raises(ValueError, match="unknown backend 'gpt5'"):
            make_generator(settings, "gpt5")

    def test_openai_backend_by_name(self, settings, tmp_path) -> None:
        with pytest.raises(BackendUnavailable):
            make_generator(settings, "openai")
        configured = Settings(data_dir=tmp_path, openai_base_url="http://127.0.0.1:9/v1")
        generator = make_generator(configured, "openai")
        assert generator is not None and generator.name == "openai"

    def test_available_backends(self, settings, tmp_path, monkeypatch) -> None:
        status = available_backends(settings)
        assert set(status) == {"extractive", "local", "openai"}
        assert status["extractive"] == ""
        assert status["local"] == ""  # parts installed in this environment
        assert "S3ASSIST_OPENAI_BASE_URL" in status["openai"]
        configured = Settings(data_dir=tmp_path, openai_base_url="http://127.0.0.1:9/v1")
        assert available_backends(configured)["openai"] == ""
        monkeypatch.setattr(local_model, "PART_PACKAGE", "no_such_model_part{i}")
        assert "pip install -e '.[llm]'" in available_backends(settings)["local"]
        missing = Settings(data_dir=tmp_path, local_model_path=tmp_path / "x.gguf")
        assert "not found" in available_backends(missing)["local"]

    def test_available_backends_is_cheap(self, settings) -> None:
        started = time.perf_counter()
        available_backends(settings)
        assert time.perf_counter() - started < 1.0
