"""Synthetic NYC TLC trip data for the sample, the tests and the benchmarks."""
