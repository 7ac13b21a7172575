"""Hostile model output: the payload corpus of issue 8 (model output may not run, fetch or navigate)."""
