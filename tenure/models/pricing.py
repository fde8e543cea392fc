"""The pricing table (``data/pricing.toml``): dollars per million tokens, per model id."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tenure.model_ids import parse_model_id
from tenure.resources import data_path

__all__ = ["DEFAULT_PRICING", "Price", "Pricing", "load_pricing"]

DEFAULT_PRICING = data_path("pricing.toml")


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    """Dollars per million input tokens."""
    output: float = Field(ge=0)
    """Dollars per million output tokens."""


@dataclass(frozen=True)
class Pricing:
    prices: dict[str, Price]

    def price(self, model_id: str) -> Price | None:
        """The exact entry, else the provider's ``provider:*`` entry, else ``None`` (unknown)."""
        if model_id in self.prices:
            return self.prices[model_id]
        return self.prices.get(f"{parse_model_id(model_id).provider}:*")

    def cost(self, model_id: str, input_tokens: int, output_tokens: int) -> float | None:
        """Dollar cost of one call, or ``None`` when the model has no price."""
        price = self.price(model_id)
        if price is None:
            return None
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


@cache
def load_pricing(path: Path = DEFAULT_PRICING) -> Pricing:
    """Read and validate a pricing file; errors name the file and the bad entry."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the pricing table: {exc}") from None
    prices: dict[str, Price] = {}
    for key, entry in raw.items():
        try:
            if not key.endswith(":*"):
                parse_model_id(key)
            prices[key] = Price.model_validate(entry)
        except (ValueError, ValidationError) as exc:
            raise ValueError(
                f'{path}: entry ["{key}"]: expected input = <$/Mtok>, output = <$/Mtok>: {exc}'
            ) from None
    return Pricing(prices)
