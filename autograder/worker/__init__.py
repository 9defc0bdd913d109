"""The sandboxed worker: the only code that imports student code. Standard library and torch only.

Inside the sandbox this folder is mounted alone as the package `agworker`; it must never import the
rest of `autograder` (hidden suites, rubric) and uses relative imports only.
"""
