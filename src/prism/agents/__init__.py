"""One adapter per agent, at the edge: everything agent-specific lives in this package."""

from __future__ import annotations

from typing import Any

from prism.agents.base import AgentAdapter
from prism.agents.claude_code import ClaudeCodeAdapter
from prism.agents.generic import GenericAdapter

ADAPTERS: tuple[AgentAdapter, ...] = (ClaudeCodeAdapter(),)
FALLBACK: AgentAdapter = GenericAdapter()


def adapter_for(resource: dict[str, Any], scope: str) -> AgentAdapter:
    for adapter in ADAPTERS:
        if adapter.matches(resource, scope):
            return adapter
    return FALLBACK


__all__ = ["ADAPTERS", "FALLBACK", "AgentAdapter", "adapter_for"]
