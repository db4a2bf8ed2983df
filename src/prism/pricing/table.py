"""The model price table (`prices.toml`) and exact token -> micro-USD costing.

Prices are read once from the packaged TOML as decimal strings and kept as integer micro-USD
per million tokens, so a cost is an exact integer sum divided once: `tokens x price / 10**6`,
rounded half-even to whole micro-USD per request. Floats never touch money.

A model name is normalized before lookup (provider prefixes such as `us.anthropic.`, Vertex
`@date`, Bedrock `-v1:0` and context suffixes such as `[1m]` are dropped) and then matched
against each entry's stems: the name must equal a stem or continue it with a date
(`-20250929`), `-latest` or a version tag, so `claude-opus-4` never swallows `claude-opus-4-5`.
A name that matches nothing is unknown: callers get `None`, never a zero price.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

MICRO = 10**6
_SUFFIX_RE = re.compile(r"^(-\d{8}|-latest|-v\d+(:\d+)?)*$")
_PROVIDER_RE = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic[./]|^anthropic--|^claude-code/")
_BRACKET_RE = re.compile(r"\[[^\]]*\]$")


def _micros(value: Any, where: str) -> int:
    """A decimal string of USD -> integer micro-USD, refusing anything finer than 1e-6."""
    d = Decimal(str(value))
    scaled = d * MICRO
    if scaled != scaled.to_integral_value() or scaled < 0:
        raise ValueError(f"price {value!r} of {where} is not a whole number of micro-USD")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class Rates:
    """Micro-USD per million tokens of each token kind."""

    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> Rates:
        return cls(
            input=_micros(raw["input"], where),
            output=_micros(raw["output"], where),
            cache_write_5m=_micros(raw["cache_write_5m"], where),
            cache_write_1h=_micros(raw["cache_write_1h"], where),
            cache_read=_micros(raw["cache_read"], where),
        )


@dataclass(frozen=True, slots=True)
class ModelPrice:
    id: str
    stems: tuple[str, ...]
    base: Rates
    long_context: Rates | None
    fast_multiplier_micros: int  # 1_000_000 = x1
    source: str


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """The tokens of one API response, cache writes split by their time to live."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    fast: bool = False

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    @property
    def prompt(self) -> int:
        return self.input + self.cache_write + self.cache_read


def _round_half_even(numerator: int, denominator: int) -> int:
    q, r = divmod(numerator, denominator)
    twice = 2 * r
    if twice > denominator or (twice == denominator and q % 2 == 1):
        q += 1
    return q


class PriceTable:
    """Parsed `prices.toml`: lookup by model name, exact costs."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version = str(data["version"])
        self.long_context_threshold = int(data.get("long_context_threshold", 200_000))
        self.aliases: dict[str, str] = {
            str(k).lower(): str(v) for k, v in (data.get("aliases") or {}).items()
        }
        models: list[ModelPrice] = []
        for raw in data.get("model", []):
            where = str(raw["id"])
            long_raw = raw.get("long_context")
            models.append(
                ModelPrice(
                    id=where,
                    stems=tuple(str(s).lower() for s in raw.get("match", [where])),
                    base=Rates.parse(raw, where),
                    long_context=Rates.parse(long_raw, where + ".long_context")
                    if long_raw
                    else None,
                    fast_multiplier_micros=_micros(raw.get("fast_multiplier", "1"), where),
                    source=str(raw.get("source", "")),
                )
            )
        self.models = models
        self._by_id = {m.id: m for m in models}
        # Longest stems first: the most specific entry wins.
        self._stems = sorted(
            ((stem, m) for m in models for stem in m.stems), key=lambda p: -len(p[0])
        )
        self._lookup_cache: dict[str, ModelPrice | None] = {}

    # --- lookup ---------------------------------------------------------------------------------
    @staticmethod
    def normalize(model: str) -> str:
        name = model.strip().lower()
        name = _BRACKET_RE.sub("", name)
        name = _PROVIDER_RE.sub("", name)
        name = name.replace("@", "-")
        return name

    def lookup(self, model: str | None) -> ModelPrice | None:
        """The price entry of `model`, or None when the table does not know it."""
        if not model:
            return None
        hit = self._lookup_cache.get(model, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        name = self.normalize(model)
        found: ModelPrice | None = None
        alias = self.aliases.get(name)
        if alias is not None:
            found = self._by_id.get(alias)
        else:
            for stem, entry in self._stems:
                if name.startswith(stem) and _SUFFIX_RE.match(name[len(stem) :]):
                    found = entry
                    break
        if len(self._lookup_cache) < 10_000:
            self._lookup_cache[model] = found
        return found

    # --- costing --------------------------------------------------------------------------------
    def cost_micros(self, model: str | None, usage: TokenUsage) -> int | None:
        """Exact cost in integer micro-USD, or None for a model the table does not know."""
        entry = self.lookup(model)
        if entry is None:
            return None
        rates = entry.base
        if entry.long_context is not None and usage.prompt > self.long_context_threshold:
            rates = entry.long_context
        numerator = (
            usage.input * rates.input
            + usage.output * rates.output
            + usage.cache_write_5m * rates.cache_write_5m
            + usage.cache_write_1h * rates.cache_write_1h
            + usage.cache_read * rates.cache_read
        )
        denominator = MICRO
        if usage.fast and entry.fast_multiplier_micros != MICRO:
            numerator *= entry.fast_multiplier_micros
            denominator *= MICRO
        return _round_half_even(numerator, denominator)


@cache
def default_table() -> PriceTable:
    """The table shipped with the package (parsed once per process)."""
    text = resources.files("prism.pricing").joinpath("prices.toml").read_text("utf-8")
    return PriceTable(tomllib.loads(text))


def load_table(path: str) -> PriceTable:
    with open(path, "rb") as f:
        return PriceTable(tomllib.load(f))
