"""The packaged price table: it parses, names resolve, costs are exact integers."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from prism.pricing import TokenUsage, default_table
from prism.pricing.table import PriceTable


def test_table_is_versioned_and_every_entry_has_a_source() -> None:
    raw = tomllib.loads(resources.files("prism.pricing").joinpath("prices.toml").read_text())
    table = default_table()
    assert table.version == raw["version"]
    assert {m.id for m in table.models} >= {
        "claude-opus-4-8",
        "claude-opus-5-5",
        "claude-opus-4-6",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-3-5-haiku",
        "claude-3-opus",
    }
    for m in table.models:
        assert m.source, m.id
        # Anthropic's cache multipliers: 5m write 1.25x input, 1h write 2x, read 0.1x (the
        # derived 5.x entries keep them too).
        assert m.base.cache_write_1h == 2 * m.base.input, m.id
    for alias in raw["aliases"].values():
        assert table.lookup(alias) is not None


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("claude-opus-4-8", "claude-opus-4-8"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-opus-5-5[1m]", "claude-opus-5-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-sonnet-4@20250514", "claude-sonnet-4"),
        ("haiku", "claude-haiku-4-5"),
        ("sonnet", "claude-sonnet-4-5"),
    ],
)
def test_names_resolve(name: str, entry: str) -> None:
    found = default_table().lookup(name)
    assert found is not None and found.id == entry


@pytest.mark.parametrize("name", ["<synthetic>", "gpt-4o", "claude-opus-4-9", "", None])
def test_unknown_models_have_no_price(name: str | None) -> None:
    assert default_table().lookup(name) is None
    assert default_table().cost_micros(name, TokenUsage(input=1000)) is None


def test_costs_match_claude_codes_own_for_the_2_1_197_capture() -> None:
    # api_request cost_usd_micros in ../shared/samples/claude-code-2.1.197/logs.decoded.json
    t = default_table()
    for inp, micros in ((1510, 20050), (1520, 20100), (1540, 20200)):
        u = TokenUsage(input=inp, output=120, cache_read=9000, cache_write_5m=800)
        assert t.cost_micros("claude-opus-4-8", u) == micros


def test_cache_ttls_long_context_and_fast_mode() -> None:
    t = default_table()
    assert t.cost_micros("claude-opus-4-6", TokenUsage(cache_write_1h=1_000_000)) == 10_000_000
    assert t.cost_micros("claude-opus-4-6", TokenUsage(cache_write_5m=1_000_000)) == 6_250_000
    # Sonnet 4.5 above 200K prompt tokens: every token of the request at the 1M-context rate.
    small = TokenUsage(input=100_000, cache_read=100_000, output=1000)
    large = TokenUsage(input=100_000, cache_read=100_001, output=1000)
    assert t.cost_micros("claude-sonnet-4-5", small) == 300_000 + 30_000 + 15_000
    # 100000 x $6 + 100001 x $0.60 + 1000 x $22.50 per million = 682500.6 micro-USD
    assert t.cost_micros("claude-sonnet-4-5", large) == 682_501
    assert t.cost_micros("claude-opus-4-6", TokenUsage(input=1_000_000, fast=True)) == 30_000_000
    assert t.cost_micros("claude-opus-4-8", TokenUsage(input=1_000_000, fast=True)) == 10_000_000
    assert t.cost_micros("claude-opus-4-5", TokenUsage(input=1_000_000, fast=True)) == 5_000_000


def test_money_is_exact_and_rounded_half_even_once_per_request() -> None:
    t = default_table()
    # 3 tokens of cache read at $0.30/M = 0.9 micro-USD -> 1; 5 tokens = 1.5 -> 2 (half even)
    assert t.cost_micros("claude-sonnet-4-6", TokenUsage(cache_read=3)) == 1
    assert t.cost_micros("claude-sonnet-4-6", TokenUsage(cache_read=5)) == 2
    with pytest.raises(ValueError):
        PriceTable(
            {
                "version": "x",
                "model": [
                    {
                        "id": "m",
                        "input": "0.0000001",
                        "output": "1",
                        "cache_write_5m": "1",
                        "cache_write_1h": "1",
                        "cache_read": "1",
                    }
                ],
            }
        )
