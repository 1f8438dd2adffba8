"""Fuzz the running service with Schemathesis from its own OpenAPI schema.

    python -m reliability.fuzz_api --models models --examples 300 --seeds 1 2 3

Starts `python -m app` on loopback over MODELS/current (with an admin token, so the admin
endpoint is fuzzed too), runs every Schemathesis phase with all checks but
positive_data_acceptance (see RELIABILITY.md), and prints the generated case count and the
outcome per seed. Exit status 1 if any run found a failure.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tests.servers import running_service
from tests.test_fuzz_api import TOKEN, run_schemathesis


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--report", type=Path, default=Path("fuzz-report"))
    args = parser.parse_args()
    failed = False
    with running_service(args.models.resolve(), ADMIN_TOKEN=TOKEN) as base:
        for seed in args.seeds:
            code, output = run_schemathesis(base, args.examples, seed, args.report)
            cases = re.search(r"(\d+) generated.*", output)
            print(f"seed {seed}: exit {code}; {cases.group(0) if cases else '?'}")
            if code != 0:
                failed = True
                print(output[-6000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
