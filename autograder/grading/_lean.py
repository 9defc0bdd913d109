"""Imported first by `autograder.grading`: keep an import that costs much and serves nothing out.

jsonschema (imported by nbformat) imports `rfc3987_syntax` when it is installed, only to check the
"iri"/"uri" string formats, which nothing in the kit asks for; that import builds a grammar and costs
about 1.5 CPU-seconds in every grading child (and in every notebook runner, which does the same).
Marking it absent makes jsonschema skip those two format checkers; nothing else changes.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
