"""`prism demo`: realistic Claude Code history for trying Prism, and an end-to-end check.

`generator` plans weeks of multi-developer sessions from the story library in `stories`
(texts in `catalog`) and sends them through the real OTLP ingest; `check` compares the judged
verdicts with the stories' intended ones; `serve` loads the demo once for `prism serve --demo`.
"""
