"""Regenerate the README's API examples from a bundle: every ``<!-- example: METHOD PATH
[BODY] -->`` marker is followed by a ``sh`` block (the curl command) and a ``json`` block,
which is replaced by what the service answers to that request on the bundle, as is.

    python -m benchmarks.readme_examples --model-dir models [--check]

``--check`` changes nothing and exits 1 when the README differs from what the bundle answers.
The requests run in process (FastAPI's test client) against a throw-away feedback store.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!-- example: (GET|POST|DELETE) (\S+)(?: ([^\n]*?))? -->\n"
                    r"(```sh\n.*?\n```\n)(```json\n.*?\n```)", flags=re.DOTALL)


def render(value: Any) -> str:
    """JSON as the README shows it: top-level keys one per line, each object of a list on a
    line of its own, numbers exactly as the service sends them."""
    if not isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    lines = []
    for key, item in value.items():
        if isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
            inner = ",\n".join(f"    {json.dumps(i, ensure_ascii=False)}" for i in item)
            lines.append(f'  "{key}": [\n{inner}\n  ]')
        else:
            lines.append(f'  "{key}": {json.dumps(item, ensure_ascii=False)}')
    return "{\n" + ",\n".join(lines) + "\n}"


def answer(client: TestClient, method: str, path: str, body: str | None) -> Any:
    response = client.request(method, path, json=json.loads(body) if body else None)
    if response.status_code >= 400:
        raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json()


def regenerate(text: str, client: TestClient) -> str:
    def replace(match: re.Match[str]) -> str:
        method, path, body, command, _ = match.groups()
        result = render(answer(client, method, path, body))
        head = match.group(0)[:match.start(5) - match.start(0)]
        return f"{head}```json\n{result}\n```"
    return MARKER.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(model_dir=args.model_dir, watch_interval=0,
                            feedback_url=f"sqlite:///{folder}/feedback.sqlite")
        with TestClient(create_app(settings)) as client:
            text = args.readme.read_text()
            new = regenerate(text, client)
    if args.check:
        if new != text:
            print(f"{args.readme}: examples differ from what {args.model_dir} answers",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(new)
    print(f"{args.readme}: {len(MARKER.findall(new))} examples from {args.model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
