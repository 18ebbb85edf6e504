from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_compatible_server import ScriptedServer

from integrations.llm.client import LeadInterpreter, LLMSettings


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory) -> Path:
    """One folder for the local model, shared by every test of the session.

    Training costs 10-20 s, so the model comes from the checkout's cache, the one the job itself uses (keyed
    by the labelled data's hash, so an edit to the data retrains it), and is copied here: tests never write
    into the cache.
    """
    from assets.interpretation.local_classifier import LocalIntentClassifier
    from dagster_project.settings import INTENT_MODEL_CACHE_DIR

    LocalIntentClassifier.load_or_train(INTENT_MODEL_CACHE_DIR)
    model_dir = tmp_path_factory.mktemp("intent_models")
    for model_file in INTENT_MODEL_CACHE_DIR.glob("local_intent_*.pkl"):
        shutil.copy2(model_file, model_dir / model_file.name)
    return model_dir


@pytest.fixture
def llm_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_interpreter(llm_server: ScriptedServer, tmp_path: Path):
    """An interpreter pointed at the scripted server; sleeps are recorded, not slept, unless real_sleep."""

    def build(real_sleep: bool = False, **overrides: object) -> tuple[LeadInterpreter, list[float]]:
        sleeps: list[float] = []
        values: dict[str, object] = {
            "base_url": llm_server.base_url,
            "model": "scripted-model",
            "api_key": "test-key",
            "timeout_seconds": 2.0,
            "cache_path": tmp_path / "llm_cache.sqlite",
        }
        settings = LLMSettings.model_validate({**values, **overrides})
        if real_sleep:
            return LeadInterpreter(settings), sleeps
        return LeadInterpreter(settings, sleep=sleeps.append), sleeps

    return build
