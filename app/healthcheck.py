"""`python -m app.healthcheck [URL]`: exit 0 when URL (default: /ready on :8000) answers 200
(the containers' HEALTHCHECK: healthy once a verified bundle is served; no curl in a slim image)."""

from __future__ import annotations

import sys
import urllib.request


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000/ready"
    if not url.startswith(("http://", "https://")):
        print(f"unhealthy: {url}: not an http(s) URL", file=sys.stderr)
        return 2
    try:
        # http(s) only (checked above), so bandit's B310 (file:// URLs) does not apply.
        with urllib.request.urlopen(url, timeout=3) as response:  # nosec B310
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
