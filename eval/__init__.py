"""Measurement: datasets, metrics and runners that score retrieval and answers."""
