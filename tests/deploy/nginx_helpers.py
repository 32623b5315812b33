"""Helpers for the deploy tests: find nginx (skip on a laptop, fail under CI=true), read its access log."""

from __future__ import annotations

import os
import re
import shutil
from collections import defaultdict
from pathlib import Path

from tests.ci import skip_or_fail


def require_nginx() -> str:
    path = os.environ.get("ARENA_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        skip_or_fail("nginx is not installed (Debian: apt-get install -y nginx)")
    return path


_LINE = re.compile(
    r'"(?P<request>[^"]*)" (?P<status>\d+) \d+ upstream=(?P<upstream>\S+(?:, \S+)*) affinity=(?P<key>\S+)'
)


def access_log(path: Path) -> list[dict[str, str]]:
    """The ``arena`` log_format lines of deploy/nginx.conf.template: request, status, upstream, key."""
    entries = []
    for line in path.read_text().splitlines():
        match = _LINE.search(line)
        if match:
            entries.append(match.groupdict())
    return entries


def upstreams_by_key(path: Path, path_prefix: str = "") -> dict[str, set[str]]:
    """Affinity key -> the replicas (last upstream tried) that served its requests."""
    seen: dict[str, set[str]] = defaultdict(set)
    for entry in access_log(path):
        target = entry["request"].split(" ")[1] if " " in entry["request"] else ""
        if target.startswith(path_prefix):
            seen[entry["key"]].add(entry["upstream"].split(", ")[-1])
    return dict(seen)
