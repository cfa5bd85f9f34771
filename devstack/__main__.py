"""`python -m devstack run`: the local stack."""

import sys

from devstack.stack import main

raise SystemExit(main(sys.argv[1:]))
