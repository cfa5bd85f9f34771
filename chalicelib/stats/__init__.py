"""Figures of an area over a period (办结率, 满意率 …) computed from the day counters."""
