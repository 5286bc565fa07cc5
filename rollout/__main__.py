"""`python -m rollout` runs the same command line as the `rollout` console script."""

import sys

from rollout.cli import main

sys.exit(main())
