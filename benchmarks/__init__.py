"""Performance measurements of the course with their targets: ``make bench`` (see run.py)."""
