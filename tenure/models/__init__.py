"""Every model call in tenure goes through here (pydantic-ai underneath).

- ``call``: a prompt through a chain or one model, returning a ``CallResult`` record.
- ``build_chain``: the pydantic-ai model for a chain, for agents that need tools or structured output.
- ``parse_model_id``: ``anthropic:NAME``, ``openai:NAME``, ``ollama:NAME[:TAG]``, ``local:gemma-3-270m``.
"""

from tenure.models.call import CallFailed, call
from tenure.models.chain import Chain, ChainUnavailable, build_chain, reset_health
from tenure.models.ids import MODEL_ID_FORMS, ModelId, parse_model_id
from tenure.models.record import Attempt, CallResult, Skip

__all__ = [
    "MODEL_ID_FORMS",
    "Attempt",
    "CallFailed",
    "CallResult",
    "Chain",
    "ChainUnavailable",
    "ModelId",
    "Skip",
    "build_chain",
    "call",
    "parse_model_id",
    "reset_health",
]
