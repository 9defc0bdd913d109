"""`python -m autograder`: the same as the `autograder` console script."""

import sys

from autograder.cli import main

sys.exit(main())
