"""The benchmark entry point: workloads W1-W4, every difftda backend and every installed peer.

    python benchmarks/run.py                      # the full run (several minutes on 2 cores)
    python benchmarks/run.py --sizes small --workloads W1,W3 --json bench.json
    difftda bench ...                             # the same, installed as a subcommand

The code lives in ``difftda.bench`` so that ``difftda bench`` works from an installed package;
docs/performance.md describes the method and holds the latest measured table.
"""

import sys

from difftda.bench import main

if __name__ == "__main__":
    sys.exit(main())
