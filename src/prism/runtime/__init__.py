"""Prism's processes: ingest, engine, worker, and the `serve` supervisor that runs all three."""
