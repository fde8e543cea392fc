"""Every model call in tenure goes through here (pydantic-ai underneath).

- ``call``: a prompt through a chain or one model, returning a ``CallResult`` record.
- ``build_chain``: the pydantic-ai model for a chain, for agents that need tools or structured output.

Model ids (``anthropic:NAME``, ``openai:NAME``, ``ollama:NAME[:TAG]``, ``local:gemma-3-270m``) are parsed
by ``tenure.model_ids``, below this package, so the config can check them without loading pydantic-ai.
"""

from tenure.models.call import CallFailed, call
from tenure.models.chain import Chain, ChainUnavailable, build_chain
from tenure.models.result import Attempt, CallResult, Skip

__all__ = [
    "Attempt",
    "CallFailed",
    "CallResult",
    "Chain",
    "ChainUnavailable",
    "Skip",
    "build_chain",
    "call",
]
