"""Experiment design and analysis beyond the two-arm test of the marts: how many members a
campaign needs before it runs (power.py)."""
