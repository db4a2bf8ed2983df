"""Report languages: `Accept-Language` negotiation, gettext catalogs, localized numbers.

The catalogs are committed as `.po` (what translators edit) and compiled `.mo` (what runs),
under `prism/insights/locale/<lang>/LC_MESSAGES/prism.{po,mo}`; a test fails when a `.mo` is
older than its `.po` or a message in the code has no translation. English is the source
language (no catalog). Maintenance:

    python -m prism.insights.i18n extract    # refresh locale/prism.pot from the code
    python -m prism.insights.i18n update     # merge the template into every .po
    python -m prism.insights.i18n compile    # .po -> .mo (commit both)
    python -m prism.insights.i18n check      # exit 1 when a .mo is stale or a msgid untranslated
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

DOMAIN = "prism"
LOCALE_DIR = Path(__file__).with_name("locale")
SOURCE = "en"
SUPPORTED: tuple[str, ...] = ("en", "fr", "de", "es", "ja", "zh")


@dataclass(frozen=True, slots=True)
class Choice:
    """The language picked for a request, and whether the caller asked for another one."""

    language: str
    requested: str | None
    fallback: bool


def negotiate(header: str | None) -> Choice:
    """Pick from an Accept-Language header by quality; unknown languages fall back to English.

    `fr-CA` matches `fr`, `zh-Hans-CN` matches `zh`; `*` and a missing header mean English
    without a fallback note.
    """
    if header is None or not header.strip():
        return Choice(SOURCE, None, False)
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return Choice(SOURCE, header[:200], False)
        primary = tag.replace("_", "-").split("-", 1)[0]
        if primary in SUPPORTED:
            return Choice(primary, header[:200], False)
    return Choice(SOURCE, header[:200], True)


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of `language` (English: the messages as written)."""
    if language == SOURCE:
        return NullTranslations()
    t = Translations.load(str(LOCALE_DIR), [language], DOMAIN)
    if not isinstance(t, Translations):  # no catalog found: fail loudly, not silently English
        raise FileNotFoundError(f"no compiled catalog for {language!r} under {LOCALE_DIR}")
    return t


def language_name(language: str, in_language: str | None = None) -> str:
    return Locale.parse(language).get_display_name(in_language or language) or language


class Localizer:
    """gettext plus babel number, money and date formats for one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.t = translations(language)
        self.locale = Locale.parse(language)

    def _(self, message: str) -> str:
        return self.t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.t.ngettext(singular, plural, n)

    def number(self, value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        if isinstance(value, int):
            return format_decimal(value, format="#,##0", locale=self.locale)
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, format=pattern, locale=self.locale)

    def signed(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        text = self.number(abs(value), digits)
        return ("+" if value >= 0 else "−") + text

    def share(self, value: float | None) -> str:
        """A 0..1 ratio as a percentage."""
        if value is None:
            return "–"
        return format_percent(value, format="#,##0%", locale=self.locale)

    def money(self, usd: float | None) -> str:
        if usd is None:
            return "–"
        return format_currency(usd, "USD", locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        minutes = seconds / 60
        if minutes < 90:
            return self._("{n} min").format(n=self.number(minutes, 0 if minutes >= 10 else 1))
        return self._("{n} h").format(n=self.number(minutes / 60, 1))

    def date(self, value: datetime) -> str:
        return format_date(value.date(), format="medium", locale=self.locale)


# --- catalog maintenance -----------------------------------------------------------------------


def _po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _template() -> object:
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="prism", domain=DOMAIN)
    root = Path(__file__).parent
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root),
        method_map=[("**.py", "python")],
        keywords={"_": None, "N_": None, "ngettext": (1, 2)},
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def compiled(language: str) -> bytes:
    """The .mo bytes the language's .po compiles to."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with _po_path(language).open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def problems() -> list[str]:
    """Stale .mo files and messages of the code without a translation."""
    from babel.messages.pofile import read_po

    template = _template()
    wanted = {m.id for m in template if m.id}  # type: ignore[attr-defined]
    out = []
    for language in SUPPORTED:
        if language == SOURCE:
            continue
        mo = _po_path(language).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(language):
            out.append(f"{mo}: stale or missing; run python -m prism.insights.i18n compile")
        with _po_path(language).open("rb") as f:
            catalog = read_po(f, locale=language, domain=DOMAIN)
        for msgid in sorted(wanted, key=str):
            msg = catalog.get(msgid)
            if (
                msg is None
                or not msg.string
                or (isinstance(msg.string, tuple) and not all(msg.string))
            ):
                out.append(f"{language}: no translation for {msgid!r}")
    return out


def main(argv: list[str]) -> int:
    from babel.messages.pofile import read_po, write_po

    command = argv[0] if argv else "check"
    if command == "extract":
        with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as f:
            write_po(f, _template(), omit_header=True, sort_output=True)  # type: ignore[arg-type]
        return 0
    if command == "update":
        template = _template()
        for language in SUPPORTED[1:]:
            path = _po_path(language)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with path.open("rb") as f:
                    catalog = read_po(f, locale=language, domain=DOMAIN)
                catalog.update(template, no_fuzzy_matching=True)  # type: ignore[arg-type]
            else:
                from babel.messages.catalog import Catalog

                catalog = Catalog(locale=language, domain=DOMAIN)
                catalog.update(template, no_fuzzy_matching=True)  # type: ignore[arg-type]
            with path.open("wb") as f:
                write_po(f, catalog, omit_header=False, sort_output=True, ignore_obsolete=True)
        return 0
    if command == "compile":
        for language in SUPPORTED[1:]:
            _po_path(language).with_suffix(".mo").write_bytes(compiled(language))
        return 0
    if command == "check":
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    print(f"unknown command {command!r}: extract | update | compile | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


__all__ = ["SUPPORTED", "Choice", "Localizer", "negotiate", "translations"]
