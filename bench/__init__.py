"""Benchmarks of the users service against a hand-written floor and an empty FastAPI app."""
