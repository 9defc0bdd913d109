"""`python -m autograder.demo`: the demo's steps (see `autograder.demo`)."""

import sys

from autograder.demo import main

sys.exit(main())
