"""The embedded model really generates, through the same interface as every other model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from tenure.config import TenureConfig
from tenure.models import CallFailed, call
from tenure.models.local import few_shot_prompt, load_local_model

pytestmark = pytest.mark.slow


async def test_embedded_model_completes_a_prompt(model_home: Path):
    result = await call(
        "The capital of France is", config=TenureConfig(), home=model_home, target="local:gemma-3-270m"
    )

    assert result.served_by == "local:gemma-3-270m"
    assert isinstance(result.output, str) and len(result.output.strip()) > 0
    assert result.output_tokens > 0 and result.input_tokens > 0
    assert result.cost_usd == 0.0


def test_model_is_loaded_once_per_process(model_home: Path):
    config = TenureConfig().providers.local
    assert load_local_model(config, model_home / "models") is load_local_model(config, model_home / "models")


async def test_few_shot_classification_with_stop_sequence(model_home: Path):
    prompt = few_shot_prompt(
        [("I love this product", "positive"), ("Terrible, it broke in a day", "negative")],
        "Absolutely wonderful experience",
        input_label="Review",
        output_label="Sentiment",
    )
    result = await call(
        prompt, config=TenureConfig(), home=model_home, target="local:gemma-3-270m", max_tokens=8, stop=["\n"]
    )
    assert "\n" not in result.output
    assert result.output.strip() in {"positive", "negative"}


def test_few_shot_prompt_layout():
    assert (
        few_shot_prompt([("a", "1")], "b", instruction="Map.")
        == "Map.\n\nInput: a\nOutput: 1\n\nInput: b\nOutput:"
    )


async def test_structured_output_is_refused_with_a_clear_reason(model_home: Path):
    class Label(BaseModel):
        label: str

    with pytest.raises(CallFailed, match="cannot call tools or produce structured output"):
        await call(
            "x", config=TenureConfig(), home=model_home, target="local:gemma-3-270m", output_type=Label
        )


async def test_a_turn_whose_conversation_outgrows_the_context_says_what_was_left_out(model_home: Path):
    from tenure.agents.turn import run_turn

    config = TenureConfig()
    message = "Here is a long note. " + " ".join(f"word{i}" for i in range(4000)) + "\nSummarise it."
    result = await run_turn("loki", message, "long", config=config, home=model_home)
    assert result.served_by == ["local:gemma-3-270m"]
    (note,) = result.notes
    assert (
        note.startswith("gemma-3-270m saw only the end of the conversation:") and "tokens did not fit" in note
    )
    cut = int(note.split(": ", 1)[1].split(" tokens")[0].replace(",", ""))
    assert cut > 4000 - config.providers.local.n_ctx  # at least the part that could not fit
