"""Admin command: bind a logged-in user to a role (deputy, staff, handler).

    python -m chalicelib.admin grant --user-id u123 --role deputy --deputy-id D01
    python -m chalicelib.admin grant --user-id u456 --role district_staff --district-id shinan

The user must have logged in once (their id is shown in the mini-program's
"my" page). Uses the same configuration (environment) as the API.
"""

from __future__ import annotations

import argparse
import sys

from pynamodb.exceptions import UpdateError

from chalicelib.auth.tokens import ROLES
from chalicelib.auth.users import grant_role
from chalicelib.bootstrap import services
from chalicelib.store.models import UserModel

BINDINGS = ("deputy_id", "station_id", "district_id", "city_id", "department_id")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and apply the grant; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    grant = commands.add_parser("grant", help="give a user a role and its binding")
    grant.add_argument("--user-id", required=True)
    grant.add_argument("--role", required=True, choices=ROLES)
    for name in BINDINGS:
        grant.add_argument(f"--{name.replace('_', '-')}")
    args = parser.parse_args(argv)
    services()
    binding = {name: getattr(args, name) for name in BINDINGS if getattr(args, name)}
    if args.role == "deputy" and "deputy_id" not in binding:
        parser.error("--deputy-id is required for the deputy role")
    try:
        grant_role(args.user_id, args.role, **binding)
    except UserModel.DoesNotExist:
        print(f"no user {args.user_id}: they must log in once first", file=sys.stderr)
        return 1
    except UpdateError:
        print(f"no deputy {binding.get('deputy_id')}: load the deputies first", file=sys.stderr)
        return 1
    print(f"{args.user_id}: granted {args.role} {binding}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
