"""The demo's repositories: what developers ask Claude Code to do in them, and how they test.

Four small but plausible projects (Python, TypeScript, Go, Rust), each with tasks per kind of
work. Prompts are written the way developers write them, and so that the heuristic judge reads
them as intended: a feature prompt says what to add, a bug prompt names the failing test and
the error. No prompt outside a rework carries a fix cue ("still", "again", "broke"), which would
turn an ordinary bug into rework of an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodeTask:
    """A change to source (`src`) with its test file (`test`)."""

    title: str
    prompt: str
    src: str
    test: str
    done: str
    """The agent's closing answer."""


@dataclass(frozen=True, slots=True)
class BugTask:
    title: str
    prompt: str
    src: str
    test: str
    test_name: str
    done: str
    rework_prompt: str
    """The same bug reported back days later (carries a fix cue and names the same file)."""


@dataclass(frozen=True, slots=True)
class RefactorTask:
    title: str
    prompt: str
    files: tuple[str, ...]
    new_file: str | None
    done: str


@dataclass(frozen=True, slots=True)
class DocsTask:
    title: str
    prompt: str
    reads: tuple[str, ...]
    doc: str
    done: str


@dataclass(frozen=True, slots=True)
class Question:
    prompt: str
    answer: str
    follow_up: str | None = None
    follow_answer: str | None = None


@dataclass(frozen=True, slots=True)
class ExploreTask:
    prompt: str
    reads: tuple[str, ...]
    grep: str
    answer: str


@dataclass(frozen=True, slots=True)
class ReleaseTask:
    prompt: str
    files: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class TypoTask:
    prompt: str
    src: str
    test: str


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    language: str
    test_file_cmd: str
    """Runs one test file: `{test}` is replaced by its path."""
    test_all_cmd: str
    build_cmd: str
    features: tuple[CodeTask, ...]
    bugs: tuple[BugTask, ...]
    tests: tuple[CodeTask, ...]
    refactors: tuple[RefactorTask, ...]
    docs: tuple[DocsTask, ...]
    questions: tuple[Question, ...]
    explores: tuple[ExploreTask, ...]
    releases: tuple[ReleaseTask, ...]
    typos: tuple[TypoTask, ...]

    def test_cmd(self, test: str) -> str:
        return self.test_file_cmd.format(test=test)


BILLING = Project(
    name="billing-service",
    language="python",
    test_file_cmd="uv run pytest -q {test}",
    test_all_cmd="uv run pytest -q",
    build_cmd="uv run ruff check src",
    features=(
        CodeTask(
            "Paginate the invoice list",
            "Add pagination to GET /invoices in src/billing/api/invoices.py: page and page_size "
            "query parameters, default page size 50, maximum 200. Add tests in "
            "tests/api/test_invoices.py and run pytest to make sure they pass.",
            "src/billing/api/invoices.py",
            "tests/api/test_invoices.py",
            "GET /invoices now takes page and page_size (default 50, max 200); 4 new tests pass.",
        ),
        CodeTask(
            "CSV export of invoices",
            "Add a CSV export for invoices: a new endpoint GET /invoices/export.csv in "
            "src/billing/api/export.py that streams id, customer, total and status. Add a test "
            "in tests/api/test_export.py and run the tests.",
            "src/billing/api/export.py",
            "tests/api/test_export.py",
            "Added GET /invoices/export.csv (streamed, quoted with csv.writer); the test passes.",
        ),
        CodeTask(
            "Partial refunds",
            "Implement partial refunds in src/billing/refunds.py: refund(invoice_id, amount) "
            "should accept any amount up to the remaining balance and record a Refund row. Add "
            "tests in tests/test_refunds.py and run pytest before you finish.",
            "src/billing/refunds.py",
            "tests/test_refunds.py",
            "refund() now supports partial amounts and rejects more than the balance; tests pass.",
        ),
        CodeTask(
            "Dunning reminder schedule",
            "Add a dunning schedule to src/billing/dunning.py: send reminders 3, 7 and 14 days "
            "after an invoice is overdue, configurable through DUNNING_DAYS. Add tests in "
            "tests/test_dunning.py and verify they pass.",
            "src/billing/dunning.py",
            "tests/test_dunning.py",
            "Reminders go out at the configured offsets (default 3/7/14 days); tests pass.",
        ),
        CodeTask(
            "Currency field on customers",
            "Add a preferred currency field to the Customer model in src/billing/models.py "
            "(ISO 4217 code, default EUR) and use it when creating invoices. Add a test in "
            "tests/test_models.py and run the tests.",
            "src/billing/models.py",
            "tests/test_models.py",
            "Customer.currency added (default EUR) and used for new invoices; tests pass.",
        ),
    ),
    bugs=(
        BugTask(
            "Discount KeyError",
            "Fix the failing test test_totals_with_discount in tests/test_invoices.py: "
            "compute_totals in src/billing/invoices.py raises KeyError: 'discount' when an "
            "invoice has no discount line.",
            "src/billing/invoices.py",
            "tests/test_invoices.py",
            "test_totals_with_discount",
            "compute_totals now treats a missing discount as zero; the test passes.",
            "compute_totals in src/billing/invoices.py is still raising KeyError: 'discount' "
            "for invoices without a discount line, the fix didn't work. Fix it properly.",
        ),
        BugTask(
            "VAT rounding off by a cent",
            "Fix the rounding error in src/billing/tax.py: test_vat_rounding in "
            "tests/test_tax.py fails because 19.995 is rounded to 19.99 instead of 20.00 "
            "(float rounding; it should use Decimal with ROUND_HALF_UP).",
            "src/billing/tax.py",
            "tests/test_tax.py",
            "test_vat_rounding",
            "VAT is now computed with Decimal and ROUND_HALF_UP; test_vat_rounding passes.",
            "VAT rounding in src/billing/tax.py is off by a cent again for 19.995. The earlier "
            "change didn't work, please fix it.",
        ),
        BugTask(
            "Webhook signature rejected",
            "Fix the webhook signature check in src/billing/webhooks.py: "
            "test_signature_with_unicode_body in tests/test_webhooks.py fails with "
            "InvalidSignature because the body is re-encoded before the HMAC is computed.",
            "src/billing/webhooks.py",
            "tests/test_webhooks.py",
            "test_signature_with_unicode_body",
            "The HMAC is now computed over the raw request bytes; the test passes.",
            "Webhook signatures with unicode bodies are still rejected with InvalidSignature "
            "in src/billing/webhooks.py. Fix the HMAC check again.",
        ),
        BugTask(
            "Duplicate invoice numbers",
            "Fix the race in src/billing/numbering.py: test_concurrent_numbers in "
            "tests/test_numbering.py fails with IntegrityError (duplicate invoice number) when "
            "two invoices are created at the same time.",
            "src/billing/numbering.py",
            "tests/test_numbering.py",
            "test_concurrent_numbers",
            "Numbers now come from a SELECT ... FOR UPDATE on the sequence row; the test passes.",
            "Duplicate invoice numbers came back: IntegrityError again in "
            "src/billing/numbering.py under concurrent creates. Please fix the race properly.",
        ),
    ),
    tests=(
        CodeTask(
            "Tests for tax rounding",
            "Add unit tests for round_tax in src/billing/tax.py covering half-up rounding, zero "
            "amounts and negative credit notes, in tests/test_tax.py. Run pytest.",
            "src/billing/tax.py",
            "tests/test_tax.py",
            "Added 6 tests for round_tax; all pass.",
        ),
        CodeTask(
            "Tests for the refund API",
            "Write tests for the refund endpoints in src/billing/api/refunds.py: success, "
            "amount above balance (422) and unknown invoice (404), in tests/api/test_refunds.py. "
            "Make sure they pass.",
            "src/billing/api/refunds.py",
            "tests/api/test_refunds.py",
            "Added 3 API tests for refunds; they pass.",
        ),
    ),
    refactors=(
        RefactorTask(
            "Extract the retry policy",
            "Refactor src/billing/payments/client.py: extract the retry and backoff logic into a "
            "RetryPolicy class in src/billing/payments/retry.py without changing behaviour, then "
            "run the tests.",
            ("src/billing/payments/client.py",),
            "src/billing/payments/retry.py",
            "RetryPolicy now lives in payments/retry.py; client.py uses it; the suite passes.",
        ),
        RefactorTask(
            "Split the invoices module",
            "Split src/billing/invoices.py into invoices/model.py and invoices/totals.py, keep "
            "the public imports in invoices/__init__.py working, and run the test suite.",
            ("src/billing/invoices/__init__.py", "src/billing/invoices/model.py"),
            "src/billing/invoices/totals.py",
            "invoices.py is now a package (model, totals); imports unchanged; tests pass.",
        ),
    ),
    docs=(
        DocsTask(
            "Document webhooks",
            "Write documentation for the billing webhooks in docs/webhooks.md: each event type, "
            "its payload fields and the retry schedule.",
            ("src/billing/webhooks.py", "src/billing/events.py"),
            "docs/webhooks.md",
            "docs/webhooks.md documents the 6 event types, payloads and retries.",
        ),
        DocsTask(
            "README setup section",
            "Update the README.md setup section: uv sync, the required env vars (DATABASE_URL, "
            "STRIPE_KEY) and how to run the tests locally.",
            ("pyproject.toml", "src/billing/settings.py"),
            "README.md",
            "README.md now covers uv sync, the two env vars and running the tests.",
        ),
    ),
    questions=(
        Question(
            "What does the --frozen flag of uv sync do?",
            "It installs exactly what uv.lock pins and fails instead of updating the lock file.",
            "and --locked?",
            "--locked also refuses to run when uv.lock is out of date with pyproject.toml.",
        ),
        Question(
            "What's the difference between ROUND_HALF_UP and ROUND_HALF_EVEN in decimal?",
            "HALF_UP rounds .5 away from zero; HALF_EVEN (banker's rounding) rounds .5 to the "
            "nearest even digit, which avoids a bias over many values.",
        ),
        Question(
            "How do I make pytest show print output?",
            "Run it with -s (or --capture=no); -rA also prints captured output in the summary.",
        ),
    ),
    explores=(
        ExploreTask(
            "Explain how invoice numbers are allocated in src/billing/numbering.py and where "
            "new numbers are requested from.",
            ("src/billing/numbering.py", "src/billing/invoices.py"),
            "next_number(",
            "Numbers come from a per-year sequence row; next_number() is called from "
            "create_invoice() and from the credit-note path.",
        ),
        ExploreTask(
            "Explain how the payment client decides when to retry in "
            "src/billing/payments/client.py.",
            ("src/billing/payments/client.py",),
            "retry",
            "It retries on 5xx and timeouts, up to 4 times with exponential backoff and jitter.",
        ),
    ),
    releases=(
        ReleaseTask(
            "Bump the version to 2.4.1 in pyproject.toml, add a CHANGELOG.md entry, commit it "
            "and push to origin.",
            ("pyproject.toml", "CHANGELOG.md"),
            "Release 2.4.1",
        ),
    ),
    typos=(
        TypoTask(
            "Fix the typo in the 'Invoice not foudn' error message in src/billing/errors.py",
            "src/billing/errors.py",
            "tests/test_errors.py",
        ),
        TypoTask(
            "Fix the typo 'recieved' in the payment log line in src/billing/payments/log.py",
            "src/billing/payments/log.py",
            "tests/test_payments.py",
        ),
        TypoTask(
            "Fix the misspelled 'ammount' field name in the refund error in src/billing/refunds.py",
            "src/billing/refunds.py",
            "tests/test_refunds.py",
        ),
    ),
)

DASHBOARD = Project(
    name="web-dashboard",
    language="typescript",
    test_file_cmd="npx vitest run {test}",
    test_all_cmd="npm test",
    build_cmd="npm run build",
    features=(
        CodeTask(
            "Sortable user table",
            "Add column sorting to the UserTable component in src/components/UserTable.tsx "
            "(click a header to sort, a second click reverses; default by name). Add tests in "
            "src/components/UserTable.test.tsx and run the tests.",
            "src/components/UserTable.tsx",
            "src/components/UserTable.test.tsx",
            "Headers now sort ascending/descending with an aria-sort attribute; tests pass.",
        ),
        CodeTask(
            "Dark mode toggle",
            "Implement a dark mode toggle in src/components/ThemeToggle.tsx that stores the "
            "choice in localStorage and respects prefers-color-scheme on first visit. Add a "
            "test in src/components/ThemeToggle.test.tsx and make sure npm test passes.",
            "src/components/ThemeToggle.tsx",
            "src/components/ThemeToggle.test.tsx",
            "ThemeToggle added (localStorage + prefers-color-scheme); test passes.",
        ),
        CodeTask(
            "CSV download on reports",
            "Add a Download CSV button to src/pages/Reports.tsx that exports the visible rows "
            "with the current filters. Add a test in src/pages/Reports.test.tsx and run vitest.",
            "src/pages/Reports.tsx",
            "src/pages/Reports.test.tsx",
            "Download CSV exports the filtered rows; the new test passes.",
        ),
        CodeTask(
            "Debounced search",
            "Add a debounced search box (300 ms) to src/components/SearchBar.tsx that calls "
            "onSearch only after typing stops. Add tests with fake timers in "
            "src/components/SearchBar.test.tsx and run them.",
            "src/components/SearchBar.tsx",
            "src/components/SearchBar.test.tsx",
            "SearchBar debounces by 300 ms; tests with fake timers pass.",
        ),
    ),
    bugs=(
        BugTask(
            "Date picker off by one day",
            "Fix the date picker in src/components/DatePicker.tsx: test_selects_local_date in "
            "src/components/DatePicker.test.tsx fails because the selected day is shifted by "
            "one in UTC-5 (toISOString converts to UTC).",
            "src/components/DatePicker.tsx",
            "src/components/DatePicker.test.tsx",
            "selects local date",
            "Dates are now formatted in local time; the test passes in UTC-5 and UTC+9.",
            "The date picker in src/components/DatePicker.tsx is still off by one day in UTC-5, "
            "the earlier fix didn't work. Please fix it.",
        ),
        BugTask(
            "Infinite re-render in Filters",
            "Fix the infinite re-render in src/components/Filters.tsx: the Filters test fails "
            "with 'Maximum update depth exceeded' because useEffect depends on an object "
            "created on every render.",
            "src/components/Filters.tsx",
            "src/components/Filters.test.tsx",
            "Filters",
            "The effect now depends on a memoized value; the test passes.",
            "Filters in src/components/Filters.tsx is re-rendering in a loop again: Maximum "
            "update depth exceeded came back. Fix it.",
        ),
        BugTask(
            "Stale token after refresh",
            "Fix src/api/client.ts: requests right after a token refresh keep sending the old "
            "token, so the 'retries with the new token' test in src/api/client.test.ts fails "
            "with 401.",
            "src/api/client.ts",
            "src/api/client.test.ts",
            "retries with the new token",
            "The client now reads the token per request after refresh; the test passes.",
            "src/api/client.ts is still sending the stale token after a refresh, 401 again. "
            "Fix the refresh flow.",
        ),
    ),
    tests=(
        CodeTask(
            "Tests for formatCurrency",
            "Add unit tests for formatCurrency in src/lib/format.ts (EUR, USD, JPY without "
            "decimals, negative amounts) in src/lib/format.test.ts and run vitest.",
            "src/lib/format.ts",
            "src/lib/format.test.ts",
            "Added 5 tests for formatCurrency; all pass.",
        ),
    ),
    refactors=(
        RefactorTask(
            "Extract useFetch hook",
            "Refactor src/pages/Users.tsx and src/pages/Reports.tsx: extract the duplicated "
            "fetch/loading/error state into a useFetch hook in src/hooks/useFetch.ts, then run "
            "the tests.",
            ("src/pages/Users.tsx", "src/pages/Reports.tsx"),
            "src/hooks/useFetch.ts",
            "Both pages use the new useFetch hook; behaviour unchanged; tests pass.",
        ),
    ),
    docs=(
        DocsTask(
            "Document the component library",
            "Write docs for the shared components in docs/components.md: props of UserTable, "
            "SearchBar and DatePicker with a short example each.",
            ("src/components/UserTable.tsx", "src/components/SearchBar.tsx"),
            "docs/components.md",
            "docs/components.md covers the three components with examples.",
        ),
    ),
    questions=(
        Question(
            "What's the difference between useMemo and useCallback?",
            "useMemo caches a computed value; useCallback caches a function identity. "
            "useCallback(fn, deps) is useMemo(() => fn, deps).",
        ),
        Question(
            "Why does vitest say 'document is not defined'?",
            "The test runs in the node environment; set environment: 'jsdom' in "
            "vitest.config.ts or add // @vitest-environment jsdom to the file.",
        ),
    ),
    explores=(
        ExploreTask(
            "Explain how authentication state flows from src/api/client.ts to the pages, and "
            "where the token is refreshed.",
            ("src/api/client.ts", "src/auth/AuthProvider.tsx"),
            "refreshToken",
            "AuthProvider holds the token in context; client.ts calls refreshToken() on 401 and "
            "replays the request once.",
        ),
        ExploreTask(
            "Explain how src/pages/Reports.tsx turns the selected range into the report query.",
            ("src/pages/Reports.tsx", "src/lib/query.ts"),
            "buildQuery(",
            "Reports keeps the range in the URL; buildQuery() in lib/query.ts maps it to from/to "
            "parameters and the API groups by day.",
        ),
    ),
    releases=(
        ReleaseTask(
            "Bump the package version to 1.18.0 in package.json, update CHANGELOG.md, commit "
            "and push.",
            ("package.json", "CHANGELOG.md"),
            "Release 1.18.0",
        ),
    ),
    typos=(
        TypoTask(
            "Fix the typo 'Adress' in the settings form label in src/pages/Settings.tsx",
            "src/pages/Settings.tsx",
            "src/pages/Settings.test.tsx",
        ),
        TypoTask(
            "Fix the typo 'Cancle' on the dialog button in src/components/ConfirmDialog.tsx",
            "src/components/ConfirmDialog.tsx",
            "src/components/ConfirmDialog.test.tsx",
        ),
    ),
)

GATEWAY = Project(
    name="ingest-gateway",
    language="go",
    test_file_cmd="go test ./{test}",
    test_all_cmd="go test ./...",
    build_cmd="go build ./...",
    features=(
        CodeTask(
            "Per-tenant rate limits",
            "Add per-tenant rate limiting to internal/router/router.go using a token bucket "
            "(limits from config, 429 with Retry-After when exceeded). Add tests in "
            "internal/router/router_test.go and run go test.",
            "internal/router/router.go",
            "internal/router/router_test.go",
            "Token-bucket limits per tenant, 429 + Retry-After; go test passes.",
        ),
        CodeTask(
            "Gzip request bodies",
            "Add support for gzip-encoded request bodies in internal/ingest/decode.go with a "
            "10 MiB limit after inflation. Add tests in internal/ingest/decode_test.go and "
            "make sure go test passes.",
            "internal/ingest/decode.go",
            "internal/ingest/decode_test.go",
            "gzip bodies are inflated under a 10 MiB limit; tests pass.",
        ),
        CodeTask(
            "Prometheus metrics endpoint",
            "Implement a /metrics endpoint in internal/metrics/metrics.go exposing request "
            "counts and latency histograms per route. Add a test in "
            "internal/metrics/metrics_test.go and run the tests.",
            "internal/metrics/metrics.go",
            "internal/metrics/metrics_test.go",
            "/metrics exposes counters and histograms per route; the test passes.",
        ),
    ),
    bugs=(
        BugTask(
            "Goroutine leak on cancel",
            "Fix the goroutine leak in internal/ingest/worker.go: TestWorkerStopsOnCancel in "
            "internal/ingest/worker_test.go fails because the worker keeps reading from the "
            "channel after the context is cancelled.",
            "internal/ingest/worker.go",
            "internal/ingest/worker_test.go",
            "TestWorkerStopsOnCancel",
            "The worker now selects on ctx.Done(); TestWorkerStopsOnCancel passes.",
            "The worker in internal/ingest/worker.go is still leaking goroutines after cancel, "
            "TestWorkerStopsOnCancel fails again. Fix it.",
        ),
        BugTask(
            "Nil pointer on empty batch",
            "Fix the panic in internal/ingest/batch.go: TestEmptyBatch in "
            "internal/ingest/batch_test.go fails with 'invalid memory address or nil pointer "
            "dereference' when a batch has no records.",
            "internal/ingest/batch.go",
            "internal/ingest/batch_test.go",
            "TestEmptyBatch",
            "Empty batches return early; TestEmptyBatch passes.",
            "internal/ingest/batch.go panics with a nil pointer again on empty batches, the fix "
            "didn't work. Fix it.",
        ),
    ),
    tests=(
        CodeTask(
            "Table tests for the config parser",
            "Add table-driven tests for ParseConfig in internal/config/config.go (defaults, "
            "env overrides, invalid durations) in internal/config/config_test.go; run go test.",
            "internal/config/config.go",
            "internal/config/config_test.go",
            "Added 7 table cases for ParseConfig; go test passes.",
        ),
    ),
    refactors=(
        RefactorTask(
            "Split the router",
            "Refactor internal/router/router.go: move the middleware into "
            "internal/router/middleware.go and keep the handlers where they are, then run "
            "go test.",
            ("internal/router/router.go",),
            "internal/router/middleware.go",
            "Middleware now lives in middleware.go; handlers unchanged; go test passes.",
        ),
    ),
    docs=(
        DocsTask(
            "Document the config",
            "Write documentation for every config key in docs/configuration.md with its "
            "default and env var.",
            ("internal/config/config.go",),
            "docs/configuration.md",
            "docs/configuration.md lists 14 keys with defaults and env vars.",
        ),
    ),
    questions=(
        Question(
            "What is the difference between a nil slice and an empty slice in Go?",
            "Both have length 0 and can be appended to; a nil slice is == nil and encodes to "
            "JSON null, an empty slice encodes to [].",
        ),
        Question(
            "How do I run a single Go test with verbose output?",
            "go test -run '^TestName$' -v ./path/to/pkg",
        ),
    ),
    explores=(
        ExploreTask(
            "Explain how a request flows through internal/router/router.go to the ingest workers.",
            ("internal/router/router.go", "internal/ingest/worker.go"),
            "Submit(",
            "The router authenticates, decodes and calls Submit(), which puts the batch on a "
            "buffered channel read by N workers.",
        ),
        ExploreTask(
            "Explain how internal/config/config.go loads defaults and applies environment "
            "overrides.",
            ("internal/config/config.go",),
            "os.Getenv",
            "Defaults come from a struct literal; Load() then reads GATEWAY_* variables with "
            "os.Getenv and validates durations.",
        ),
    ),
    releases=(
        ReleaseTask(
            "Tag release v0.9.3: update the version in internal/version/version.go and "
            "CHANGELOG.md, commit and push.",
            ("internal/version/version.go", "CHANGELOG.md"),
            "Release v0.9.3",
        ),
    ),
    typos=(
        TypoTask(
            "Fix the typo 'unauthorised tennant' in the error text in internal/auth/auth.go",
            "internal/auth/auth.go",
            "internal/auth/auth_test.go",
        ),
        TypoTask(
            "Fix the typo 'recieved' in the log message in internal/ingest/worker.go",
            "internal/ingest/worker.go",
            "internal/ingest/worker_test.go",
        ),
    ),
)

LOGCUT = Project(
    name="logcut",
    language="rust",
    test_file_cmd="cargo test --test {test}",
    test_all_cmd="cargo test",
    build_cmd="cargo build --release",
    features=(
        CodeTask(
            "JSON output",
            "Add a --json flag to the CLI in src/main.rs that prints each matched record as "
            "one JSON object per line. Add an integration test in tests/cli.rs and run "
            "cargo test.",
            "src/main.rs",
            "tests/cli.rs",
            "--json prints one object per line via serde_json; cargo test passes.",
        ),
        CodeTask(
            "Time range filter",
            "Implement --since and --until filters in src/filter.rs accepting RFC 3339 "
            "timestamps. Add tests in tests/filter.rs and make sure cargo test passes.",
            "src/filter.rs",
            "tests/filter.rs",
            "--since/--until filter by RFC 3339 time; tests pass.",
        ),
    ),
    bugs=(
        BugTask(
            "Panic on invalid UTF-8",
            "Fix the panic in src/parser.rs: parses_invalid_utf8 in tests/parser.rs fails with "
            "'called Result::unwrap() on an Err value: Utf8Error' on lines with invalid UTF-8.",
            "src/parser.rs",
            "tests/parser.rs",
            "parses_invalid_utf8",
            "Lines are decoded with from_utf8_lossy; parses_invalid_utf8 passes.",
            "src/parser.rs still panics with Utf8Error on invalid UTF-8 lines, the fix didn't "
            "work. Fix it again.",
        ),
        BugTask(
            "Wrong line numbers after CRLF",
            "Fix src/reader.rs: line_numbers_with_crlf in tests/reader.rs fails because lines "
            "ending in \\r\\n are counted twice, so reported line numbers are off.",
            "src/reader.rs",
            "tests/reader.rs",
            "line_numbers_with_crlf",
            "CRLF is now treated as one line ending; the test passes.",
            "Line numbers in src/reader.rs are off again for CRLF files, line_numbers_with_crlf "
            "regressed. Fix it.",
        ),
    ),
    tests=(
        CodeTask(
            "Tests for the pattern matcher",
            "Add tests for Matcher in src/matcher.rs (literal, regex, case-insensitive, empty "
            "pattern) in tests/matcher.rs and run cargo test.",
            "src/matcher.rs",
            "tests/matcher.rs",
            "Added 4 tests for Matcher; cargo test passes.",
        ),
    ),
    refactors=(
        RefactorTask(
            "Extract output formatting",
            "Refactor src/main.rs: extract the output formatting into src/output.rs with a "
            "Formatter trait for text and JSON, then run cargo test.",
            ("src/main.rs",),
            "src/output.rs",
            "Formatting now lives in output.rs behind a Formatter trait; cargo test passes.",
        ),
    ),
    docs=(
        DocsTask(
            "Usage docs",
            "Update the README.md usage section with every flag and three examples.",
            ("src/main.rs",),
            "README.md",
            "README.md documents every flag with three examples.",
        ),
    ),
    questions=(
        Question(
            "What's the difference between String and &str in Rust?",
            "String owns a growable heap buffer; &str is a borrowed view of UTF-8 bytes owned "
            "elsewhere.",
        ),
        Question(
            "How do I see println output in cargo test?",
            "Run cargo test -- --nocapture (or --show-output to print it for passing tests).",
        ),
    ),
    explores=(
        ExploreTask(
            "Explain how src/reader.rs buffers input and where it detects the end of a record.",
            ("src/reader.rs",),
            "read_until",
            "It wraps the input in a 64 KiB BufReader and calls read_until(b'\\n') per record.",
        ),
        ExploreTask(
            "Explain how src/matcher.rs compiles patterns and when it uses a literal search.",
            ("src/matcher.rs",),
            "Regex::new",
            "Patterns without metacharacters use memchr's literal finder; others go through "
            "Regex::new with case folding when -i is set.",
        ),
    ),
    releases=(
        ReleaseTask(
            "Bump the crate version to 0.6.0 in Cargo.toml, add the CHANGELOG.md entry, commit "
            "and push.",
            ("Cargo.toml", "CHANGELOG.md"),
            "Release 0.6.0",
        ),
    ),
    typos=(
        TypoTask(
            "Fix the typo 'occured' in the error message in src/parser.rs",
            "src/parser.rs",
            "tests/parser.rs",
        ),
        TypoTask(
            "Fix the typo 'seperator' in the --help text in src/main.rs",
            "src/main.rs",
            "tests/cli.rs",
        ),
    ),
)

PROJECTS: tuple[Project, ...] = (BILLING, DASHBOARD, GATEWAY, LOGCUT)

APPROVALS = (
    "thanks, that works!",
    "perfect, thanks",
    "lgtm",
    "great, works now",
    "nice, ship it",
    "looks good, thanks!",
    "awesome, thank you",
    "works, thanks 👍",
)
SELF_GRADE_APPROVALS = ("perfect, thanks!", "great, thanks", "awesome, that's exactly it")
# New-task cues whose words the rubric skips as polite, so the task's own verb still leads
# (not "Now let's": the rubric reads "let's" as the leading word and loses the intent).
CUE_PREFIXES = ("Next, ", "Ok, next: ", "Next: ")
EXPLAIN_CUES = ("Next, ", "Ok, next: ")
QUESTION_CUES = ("Another question: ", "Different question: ")
TINY_PROMPTS = ("ok", "go", "ok", "yes", "go", "ok", "k", "go on", "yes", "ok")
FRUSTRATIONS = (
    ("still failing, same error", "it still doesn't work, this is wrong"),
    ("no, same error", "still broken, the test still fails"),
    ("that didn't fix it", "still failing. this is wrong"),
)
GIVE_UPS = ("ugh, forget it. revert everything", "forget it, revert it", "nope. undo all of that")
