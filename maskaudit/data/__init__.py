"""Benchmark data: error modes, the synthetic generator, and the MQ-RAVSBench reader."""
