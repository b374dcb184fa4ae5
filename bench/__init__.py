"""Benchmarks: speed goals live here, not in timed tests (`python -m bench --help`)."""
