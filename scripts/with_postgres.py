#!/usr/bin/env python3
"""with_postgres.py -- COMMAND...: runs COMMAND with a throw-away PostgreSQL cluster, its socket
directory in HOTSPOT_TEST_PG_HOST, and removes the cluster afterwards."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hotspot_stack import Postgres


def main():
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    directory = tempfile.mkdtemp(prefix="hotspot-pg-")
    os.chmod(directory, 0o755)
    postgres = Postgres(directory)
    try:
        postgres.start()
        env = dict(os.environ, HOTSPOT_TEST_PG_HOST=postgres.directory)
        code = subprocess.call(args, env=env)
    finally:
        postgres.stop()
        shutil.rmtree(directory, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
