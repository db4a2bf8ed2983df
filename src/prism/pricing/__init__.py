"""Model prices: a versioned table in the package (`prices.toml`) and exact costing."""

from prism.pricing.table import ModelPrice, PriceTable, TokenUsage, default_table

__all__ = ["ModelPrice", "PriceTable", "TokenUsage", "default_table"]
