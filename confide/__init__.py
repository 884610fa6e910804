"""Confide: a practice platform whose privacy promises are enforced by its code."""
