"""Benchmarks: ingest, re-ingest, search at scale, answer latency (see BENCHMARKS.md)."""
