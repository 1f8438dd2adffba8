"""The trainer's entry point: python -m training (training.commands.cli)."""

import sys

from training.commands.cli import main

sys.exit(main())
