"""`python -m staff`: manage the staff console's accounts (see `staff/cli.py`)."""

import sys

from staff.cli import main

sys.exit(main())
