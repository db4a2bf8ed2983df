"""Versioned prompt files (`prism/judge/prompts/<name>.v<N>.md`, shipped as package data).

A file has a `# system` and a `# user` section; `$name` placeholders are filled with
`string.Template`. The file's stem (`judge.v1`) is the prompt version stored with every verdict
or report it produced, so changing a prompt means adding `judge.v2.md`, not editing v1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any

CURRENT = {"judge": "judge.v1", "title": "title.v1", "report": "report.v1"}


@dataclass(frozen=True, slots=True)
class Prompt:
    version: str
    system: Template
    user: Template

    def render(self, **values: Any) -> tuple[str, str]:
        text = {k: str(v) for k, v in values.items()}
        return self.system.safe_substitute(text), self.user.safe_substitute(text)


@cache
def load(name: str) -> Prompt:
    """The current version of prompt `name` (judge, title, report)."""
    version = CURRENT[name]
    raw = resources.files("prism.judge").joinpath(f"prompts/{version}.md").read_text("utf-8")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in raw.splitlines():
        if line.strip() in ("# system", "# user"):
            current = sections.setdefault(line.strip()[2:], [])
            continue
        if current is not None:
            current.append(line)
    if set(sections) != {"system", "user"}:
        raise ValueError(f"prompt {version} needs a '# system' and a '# user' section")
    return Prompt(
        version,
        Template("\n".join(sections["system"]).strip()),
        Template("\n".join(sections["user"]).strip()),
    )
