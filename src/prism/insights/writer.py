"""Writers turn a report's content into prose, and `render_markdown` into the final Markdown.

The heuristic writer is the default: deterministic sentences from the figures, localized
through the gettext catalogs (`prism.insights.i18n`). The LLM writer asks the configured model
for the headline, summary and advice in the report's language; on any failure the heuristic
prose stands and the report's `writer.status` is `failed` with the reason. The tables, numbers
and per-prompt advice are always rendered from the content, never by a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field

from prism.insights.i18n import Localizer, language_name
from prism.llm import prompts
from prism.llm.client import LLMClient
from prism.llm.provider import LLMError


def N_(message: str) -> str:
    """Mark a message for extraction; translated where it is shown."""
    return message


KPI_LABELS = {
    "prism_score": N_("PRISM score"),
    "crushed_count": N_("Crushed goals"),
    "total_count": N_("Qualifying goals"),
    "cspw": N_("Crushed per working day"),
    "ttc_median_seconds": N_("Median time to crush"),
    "crush_weight": N_("Crush weight"),
    "tpt": N_("Tokens per crushed goal"),
    "cpcs_estimate": N_("Cost per crushed goal"),
    "apg": N_("Average prompt grade"),
    "cost_usd": N_("Total cost"),
    "composite": N_("Composite score"),
    "speed": N_("Speed"),
    "skill": N_("Skill"),
    "efficiency": N_("Efficiency"),
    "sse": N_("Session success estimate"),
    "pes": N_("Prompt effectiveness"),
    "ie": N_("Iteration efficiency"),
    "crr": N_("Clean resolution rate"),
    "fc": N_("First-try completion"),
}
KPI_FORMAT = {
    "prism_score": "points",
    "crushed_count": "int",
    "total_count": "int",
    "cspw": "ratio2",
    "ttc_median_seconds": "duration",
    "crush_weight": "share",
    "tpt": "int",
    "cpcs_estimate": "money",
    "apg": "share",
    "cost_usd": "money",
    "composite": "points",
    "speed": "points",
    "skill": "points",
    "efficiency": "points",
    "sse": "share",
    "pes": "share",
    "ie": "share",
    "crr": "share",
    "fc": "share",
}
INTENTS = {
    "feature": N_("feature"),
    "bugfix": N_("bug fix"),
    "refactor": N_("refactor"),
    "test": N_("tests"),
    "docs": N_("docs"),
    "explore": N_("exploration"),
    "ops": N_("ops"),
    "review": N_("review"),
    "unclear": N_("unclear"),
    "trivia": N_("trivia"),
}
TRIVIA = {
    "no_prompts": N_("no prompts"),
    "too_short": N_("too short"),
    "no_work": N_("no real work"),
    "errors_only": N_("errors only"),
}
FLAGS = {
    "auto_retry_storm": N_("auto-retry storm"),
    "tiny_prompt_burst": N_("burst of tiny prompts"),
    "arc_splitting": N_("arc splitting"),
    "self_grading": N_("self-grading"),
}
BOOLEANS = {
    "goal_explicit": N_("explicit goal"),
    "scope_bounded": N_("bounded scope"),
    "references_concrete": N_("concrete references"),
    "context_sufficient": N_("enough context"),
    "verification_requested": N_("verification requested"),
    "root_cause_oriented": N_("root cause"),
    "plan_first": N_("plan first"),
}
ADVICE = {
    "goal_explicit": N_(
        "Start with the action and the result you want, e.g. \u201cAdd a /health endpoint that "
        "returns 200\u201d, rather than describing the situation only."
    ),
    "scope_bounded": N_(
        "Bound the change: name the files or functions to touch and say what must not change "
        "(\u201conly in src/parser.py, keep the public API\u201d)."
    ),
    "references_concrete": N_(
        "Point at concrete things: file paths, function names, the error message, a line "
        "number or a failing test."
    ),
    "context_sufficient": N_(
        "Give the context the agent cannot guess: the exact error, what you expected and what "
        "happened, and how to reproduce it."
    ),
    "verification_requested": N_(
        "Ask for proof: \u201crun the tests and show me they pass\u201d, or \u201cadd a "
        "regression test first\u201d."
    ),
    "root_cause_oriented": N_(
        "For bugs, ask for the root cause before the fix (\u201cfind out why this fails, then "
        "fix the cause, not the symptom\u201d)."
    ),
    "plan_first": N_(
        "For features and refactors, ask for a short plan first and approve it before any code "
        "is written."
    ),
}

HEADINGS = {
    "advice": N_("Advice"),
    "by_intent": N_("By intent"),
    "by_model": N_("By model"),
    "change": N_("Change"),
    "cost": N_("Cost"),
    "crushed": N_("Crushed"),
    "goals": N_("Goals"),
    "input_tokens": N_("Input tokens"),
    "intent": N_("Intent"),
    "key_figures": N_("Key figures"),
    "metric": N_("Metric"),
    "model": N_("Model"),
    "model_time": N_("Model time"),
    "output_tokens": N_("Output tokens"),
    "previous_period": N_("Previous period"),
    "prompts_to_improve": N_("Prompts to improve"),
    "requests": N_("Requests"),
    "this_period": N_("This period"),
    "time": N_("Time"),
    "tokens": N_("Tokens"),
    "top_crushed_goals": N_("Top crushed goals"),
    "trivia_and_integrity": N_("Trivia and integrity"),
    "where_time_tokens_and_cost_went": N_("Where time, tokens and cost went"),
}


class Prose(BaseModel):
    """The written part of a report (what an LLM writer must answer)."""

    headline: str = Field(min_length=1, max_length=300)
    summary: str = Field(min_length=1, max_length=2000)
    advice: list[str] = Field(default_factory=list, max_length=5)


@dataclass(frozen=True, slots=True)
class Written:
    prose: Prose
    writer: str
    version: str
    status: str  # heuristic | judged | failed
    note: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0


class Writer(Protocol):
    name: str
    version: str

    def write(self, content: Mapping[str, Any], loc: Localizer) -> Written: ...


def fmt(loc: Localizer, kind: str, value: Any) -> str:
    if value is None:
        return "–"
    if kind == "int":
        return loc.number(round(float(value)))
    if kind == "points":
        return loc.number(float(value), 1)
    if kind == "ratio2":
        return loc.number(float(value), 2)
    if kind == "share":
        return loc.share(float(value))
    if kind == "money":
        return loc.money(float(value))
    if kind == "duration":
        return loc.duration(float(value))
    return str(value)


def fmt_change(loc: Localizer, kind: str, change: float | None) -> str:
    if change is None:
        return "–"
    if kind == "share":
        return loc.signed(change * 100, 1) + " pp"
    if kind == "money":
        return ("+" if change >= 0 else "−") + loc.money(abs(change))
    if kind == "duration":
        return ("+" if change >= 0 else "−") + loc.duration(abs(change))
    if kind == "int":
        return loc.signed(float(change), 0)
    return loc.signed(float(change), 2 if kind == "ratio2" else 1)


def kpi(content: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return next((k for k in content["kpis"] if k["key"] == key), {})


class HeuristicWriter:
    """Sentences from the figures; the default, offline and deterministic."""

    name = "heuristic"
    version = "1.0.0"

    def write(self, content: Mapping[str, Any], loc: Localizer) -> Written:
        _ = loc._
        st, prev = content["stats"], content["previous_stats"]
        if content["family"] == "v2" and st["composite"] is not None:
            headline = _(
                "Composite score {composite}: Speed {speed}, Skill {skill}, Efficiency "
                "{efficiency}."
            ).format(
                composite=fmt(loc, "points", st["composite"]),
                speed=fmt(loc, "points", st["speed"]),
                skill=fmt(loc, "points", st["skill"]),
                efficiency=fmt(loc, "points", st["efficiency"]),
            )
        elif st["total_count"]:
            headline = _("You crushed {crushed} of {total} goals (PRISM score {score}).").format(
                crushed=loc.number(st["crushed_count"]),
                total=loc.number(st["total_count"]),
                score=fmt(loc, "points", st["prism_score"]),
            )
        else:
            headline = _("No goal passed the substance floor in this period.")
        sentences: list[str] = []
        key = "composite" if content["family"] == "v2" else "prism_score"
        now_v, before = st.get(key), prev.get(key)
        if now_v is not None and before is not None:
            sentences.append(
                _("That is {change} points against the previous period ({previous}).").format(
                    change=loc.signed(now_v - before, 1), previous=fmt(loc, "points", before)
                )
            )
        elif now_v is not None:
            sentences.append(_("There is no previous period to compare with."))
        intents = [i for i in content["breakdown"]["by_intent"] if i["intent_class"] != "trivia"]
        if intents:
            top = intents[0]
            sentences.append(
                _("Most of your time went to {intent} ({time}, {count} goals).").format(
                    intent=_(INTENTS.get(top["intent_class"], top["intent_class"])),
                    time=loc.duration(top["seconds"]),
                    count=loc.number(top["arcs"]),
                )
            )
        models = content["breakdown"]["by_model"]
        total_cost = sum(x["cost_usd"] for x in models)
        if models and total_cost > 0:
            sentences.append(
                _("{model} accounted for {share} of the cost ({cost}).").format(
                    model=models[0]["model"],
                    share=loc.share(models[0]["cost_usd"] / total_cost),
                    cost=loc.money(total_cost),
                )
            )
        advice: list[str] = []
        pillar = content["rubric"]["worst_pillar"]
        if pillar:
            share = content["rubric"]["per_boolean"].get(pillar)
            advice.append(
                _("Your weakest prompt habit is \u201c{habit}\u201d ({share} of goals).").format(
                    habit=_(BOOLEANS[pillar]), share=loc.share(share)
                )
                + " "
                + _(ADVICE[pillar])
            )
        trivia = content["trivia"]["total"]
        if trivia:
            advice.append(
                loc.ngettext(
                    "{n} session was too small to score; group quick questions into one "
                    "session with a clear goal.",
                    "{n} sessions were too small to score; group quick questions into one "
                    "session with a clear goal.",
                    trivia,
                ).format(n=loc.number(trivia))
            )
        flags = content["integrity"]["by_kind"]
        if flags:
            advice.append(
                _("Integrity flags were raised ({flags}); they can block a crush.").format(
                    flags=", ".join(
                        f"{_(FLAGS.get(f['kind'], f['kind']))} × {loc.number(f['count'])}"
                        for f in flags
                    )
                )
            )
        tet = st.get("tet")
        if tet is not None and tet < 1:
            advice.append(
                _(
                    "A crushed goal cost more tokens than usual (TET {tet}); smaller, "
                    "well-scoped goals are cheaper."
                ).format(tet=loc.number(tet, 2))
            )
        summary = " ".join(sentences) or headline
        return Written(
            Prose(headline=headline, summary=summary, advice=advice[:5]),
            self.name,
            self.version,
            "heuristic",
        )


class LLMWriter:
    """Asks the model for the prose, in the report's language; falls back to the heuristic."""

    def __init__(self, client: LLMClient, fallback: Writer | None = None) -> None:
        self.client = client
        self.name = client.label
        self.version = f"{prompts.load('report').version}/{client.provider.model}"[:64]
        self.fallback = fallback or HeuristicWriter()

    def write(self, content: Mapping[str, Any], loc: Localizer) -> Written:
        figures = {
            k: content[k]
            for k in ("family", "window", "kpis", "rubric", "trivia", "integrity", "top_crushed")
        }
        figures["by_model"] = content["breakdown"]["by_model"][:5]
        figures["by_intent"] = content["breakdown"]["by_intent"]
        figures["worst_prompts"] = [
            {"grade": p["grade"], "missing": p["missing"], "intent": p["intent_class"]}
            for p in content["worst_prompts"]
        ]
        system, user = prompts.load("report").render(
            language=loc.language,
            language_name=language_name(loc.language, "en"),
            figures=json.dumps(figures, default=_json_default, ensure_ascii=False),
        )
        try:
            answer = self.client.ask(
                system, user, Prose, ref=content.get("id"), tool_name="write_report"
            )
        except LLMError as exc:
            base = self.fallback.write(content, loc)
            spent = (exc.input_tokens, exc.output_tokens)
            return Written(
                base.prose,
                self.name,
                self.version,
                "failed",
                exc.note,
                spent[0],
                spent[1],
                self.client.cost(*spent),
            )
        return Written(
            answer.value,
            self.name,
            self.version,
            "judged",
            None,
            answer.input_tokens,
            answer.output_tokens,
            answer.cost_micro_usd,
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


# --- Markdown ------------------------------------------------------------------------------------


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(content: Mapping[str, Any], loc: Localizer) -> str:
    """The whole report as Markdown in the report's language."""
    _ = loc._
    H = HEADINGS
    win = content["window"]
    start, end = win["from"], win["to"]
    out: list[str] = []
    title = _("PRISM v3 report") if content["family"] == "v3" else _("PRISM v2.1 report")
    last = end - timedelta(seconds=1)  # the window's end is exclusive: show its last day
    out.append(f"# {title}: {loc.date(start)} – {loc.date(last)}")
    out.append("")
    note = content.get("language_note")
    if note:
        out += [f"> {note}", ""]
    out += [f"**{content['headline']}**", "", content["summary"], ""]

    out += [f"## {_(H['key_figures'])}", ""]
    cols = [_(H[k]) for k in ("metric", "this_period", "previous_period", "change")]
    out.append("| " + " | ".join(cols) + " |")
    out.append("|---|---:|---:|---:|")
    for k in content["kpis"]:
        kind = KPI_FORMAT.get(k["key"], "points")
        out.append(
            f"| {_(KPI_LABELS.get(k['key'], k['key']))} | {fmt(loc, kind, k['value'])} | "
            f"{fmt(loc, kind, k['previous'])} | {fmt_change(loc, kind, k['change'])} |"
        )
    out.append("")

    out += [f"## {_(H['top_crushed_goals'])}", ""]
    if content["top_crushed"]:
        for i, a in enumerate(content["top_crushed"], 1):
            out.append(
                f"{i}. **{_cell(a['title'] or a['score_v3_sub_session_id'][:8])}** — "
                f"{_(INTENTS.get(a['intent_class'], a['intent_class']))}, "
                f"{loc.duration(a['seconds'])}, "
                + _("{tokens} tokens").format(tokens=loc.number(a["billed_tokens"]))
                + f", {loc.money(a['cost_usd'])}"
            )
    else:
        out.append(_("No crushed goal in this period."))
    out.append("")

    out += [f"## {_(H['where_time_tokens_and_cost_went'])}", "", f"### {_(H['by_model'])}", ""]
    models = content["breakdown"]["by_model"]
    if models:
        keys = ("model", "requests", "input_tokens", "output_tokens", "cost", "model_time")
        out.append("| " + " | ".join(_(H[k]) for k in keys) + " |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for r in models:
            out.append(
                f"| {_cell(r['model'])} | {loc.number(r['requests'])} | "
                f"{loc.number(r['input_tokens'])} | {loc.number(r['output_tokens'])} | "
                f"{loc.money(r['cost_usd'])} | {loc.duration(r['model_seconds'])} |"
            )
    else:
        out.append(_("No model requests in this period."))
    out += ["", f"### {_(H['by_intent'])}", ""]
    intents = content["breakdown"]["by_intent"]
    if intents:
        keys = ("intent", "goals", "crushed", "time", "tokens", "cost")
        out.append("| " + " | ".join(_(H[k]) for k in keys) + " |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for r in intents:
            out.append(
                f"| {_(INTENTS.get(r['intent_class'], r['intent_class']))} | "
                f"{loc.number(r['arcs'])} | {loc.number(r['crushed'])} | "
                f"{loc.duration(r['seconds'])} | {loc.number(r['billed_tokens'])} | "
                f"{loc.money(r['cost_usd'])} |"
            )
    else:
        out.append(_("No goals in this period."))
    out.append("")

    out += [f"## {_(H['trivia_and_integrity'])}", ""]
    trivia = content["trivia"]
    reasons = ", ".join(
        f"{_(TRIVIA.get(r, r))} × {loc.number(n)}" for r, n in trivia["by_reason"].items() if n
    )
    out.append(
        "- "
        + _("Sessions left out of scoring: {n}").format(n=loc.number(trivia["total"]))
        + (f" ({reasons})" if reasons else "")
    )
    flags = content["integrity"]["by_kind"]
    shown = ", ".join(
        f"{_(FLAGS.get(f['kind'], f['kind']))} × {loc.number(f['count'])}" for f in flags
    )
    out.append("- " + _("Integrity flags: {flags}").format(flags=shown or _("none")))
    out.append("")

    out += [f"## {_(H['prompts_to_improve'])}", ""]
    if content["worst_prompts"]:
        for i, p in enumerate(content["worst_prompts"], 1):
            text = p["prompt"] or _("(prompt text not logged)")
            out.append(
                f"{i}. \u201c{_cell(text)}\u201d — "
                + _("grade {letter} ({grade})").format(
                    letter=p["letter_grade"] or "–", grade=loc.share(p["grade"])
                )
            )
            for b in p["missing"]:
                out.append(f"   - **{_(BOOLEANS[b])}**: {_(ADVICE[b])}")
    else:
        out.append(_("No graded prompts in this period (prompt logging may be off)."))
    out.append("")

    if content["advice"]:
        out += [f"## {_(H['advice'])}", ""]
        out += [f"- {a}" for a in content["advice"]]
        out.append("")
    return "\n".join(out)
