"""`python -m gradekit <command>`: see gradekit.cli."""

import sys

from gradekit.cli import main

sys.exit(main())
