"""History import: Claude Code transcripts -> the lake's `events` rows that OTLP fills.

`transcripts` finds and reads the files, `mapping` turns records into events (with ccusage's
usage dedupe), `rows` holds them as lake columns, `sink` writes them through the lake's journal
skipping what is stored already, `runner` drives it all (offline or against a server). Readers
prefer live rows for a session stored both ways (`prism.lake.dedupe`).
"""
