"""The category taxonomy: groups of leaf categories, each with the expertise it calls for."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).resolve().parent.parent / "data" / "categories.json"


@lru_cache(maxsize=1)
def taxonomy() -> dict:
    """The whole taxonomy as served by `GET /categories`."""
    return json.loads(_DATA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def leaf_categories() -> dict[str, dict]:
    """Leaf code → {code, name, group, group_name, expertise}."""
    leaves = {}
    for group in taxonomy()["groups"]:
        for child in group["children"]:
            leaves[child["code"]] = {
                "code": child["code"],
                "name": child["name"],
                "group": group["code"],
                "group_name": group["name"],
                "expertise": list(group.get("expertise", [])),
            }
    return leaves


def is_category(code: object) -> bool:
    """Whether `code` is a leaf category a report may carry."""
    return isinstance(code, str) and code in leaf_categories()
