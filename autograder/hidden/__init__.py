"""The hidden grading suites: never released."""
