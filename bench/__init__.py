"""Benchmarks: every figure is a ratio against a floor or a peer measured in the same run.

Run with ``python -m bench [--full] [--only NAME]`` (``make bench``); results go to
``bench/results.json`` and a table on stdout. Not tests: nothing here asserts timings.
"""
