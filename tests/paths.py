"""Where the tests find the repository and the bundled dataset."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "ml-latest-small"
