"""``arena models`` (list the configured models) and ``arena models check`` (send each a tiny request).

The listing shows each model's upstream name, api_type, pools (battle / chat), weight, organization,
endpoint hosts (never full URLs or keys), where its key comes from and whether it is set. ``check`` sends
"Reply with the word OK." to every endpoint of every (or each named) model and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from arena_app.settings import ArenaSettings


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    models = sub.add_parser(
        "models",
        parents=parents,
        help="list the models of the endpoint file, or check that they answer",
        description="List the models configured in the endpoint file (--endpoints-file, default "
        "./api_endpoints.json): pools, endpoints, key source and health. Keys are never shown.",
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(func=_list)
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")
    check = actions.add_parser(
        "check", parents=parents, help="send a tiny request to every endpoint; exit 1 if any fails"
    )
    check.add_argument("names", nargs="*", metavar="MODEL", help="models to check (default: all)")
    check.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="seconds allowed per endpoint (default 30)"
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(func=_check)


def _endpoints_path(settings: ArenaSettings) -> Path:
    if settings.endpoints_file is not None:
        return settings.endpoints_file
    default = Path("api_endpoints.json")
    if default.exists():
        return default
    raise FileNotFoundError(
        "no endpoint file: pass --endpoints-file PATH or create ./api_endpoints.json "
        "(start from api_endpoints.example.json)"
    )


def _registry(settings: ArenaSettings) -> Any:
    from arena_app.providers.registry import ModelRegistry

    return ModelRegistry.from_file(_endpoints_path(settings), missing_keys="keep")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _key_label(source: str, configured: bool) -> str:
    """Where the key comes from; MISSING when a named env var is unset (an implicit one is optional)."""
    if source.endswith(" (implicit)"):
        return source.removesuffix(" (implicit)") if configured else "none"
    if source.startswith("env ") and not configured:
        return f"{source} MISSING"
    return source


def _list(args: argparse.Namespace, settings: ArenaSettings) -> int:
    reg = _registry(settings)
    health = {h.name: h for h in reg.health_report()}
    if args.json:
        out = []
        for info in reg.models():
            h = health[info.name]
            item = asdict(info)
            item["params"] = asdict(info.params)
            item.update(key_source=h.key_source, key_configured=h.key_configured, healthy=h.healthy)
            out.append(item)
        print(json.dumps(out, indent=2))
        return 0
    rows = [
        ["MODEL", "UPSTREAM NAME", "TYPE", "POOLS", "WEIGHT", "ORGANIZATION", "ENDPOINTS", "KEY", "HEALTH"]
    ]
    for info in reg.models():
        h = health[info.name]
        pools = "+".join(p for p, on in (("battle", info.battle), ("chat", info.chat)) if on)
        key = _key_label(h.key_source, h.key_configured)
        state = "no key" if key.endswith("MISSING") else "ok" if h.healthy else "cooling down"
        rows.append(
            [
                info.name,
                info.model_name,
                info.api_type,
                pools,
                f"{info.weight:g}",
                info.organization or "-",
                ",".join(info.endpoints),
                key,
                state,
            ]
        )
    print(_table(rows))
    missing = [n for n, h in health.items() if _key_label(h.key_source, h.key_configured).endswith("MISSING")]
    if missing:
        print(f"\n{len(missing)} model(s) have no key: set the environment variables shown as MISSING.")
    return 0


def _check(args: argparse.Namespace, settings: ArenaSettings) -> int:
    # the table reports every failure; the providers' operator log lines would only repeat them
    provider_log = logging.getLogger("arena_app.providers")
    level = provider_log.level
    provider_log.setLevel(logging.ERROR)
    try:
        return _run_checks(args, settings)
    finally:
        provider_log.setLevel(level)


def _run_checks(args: argparse.Namespace, settings: ArenaSettings) -> int:
    reg = _registry(settings)
    names = args.names or [m.name for m in reg.models()]
    for name in names:
        reg.get(name)  # unknown names fail before any request
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        batches = pool.map(lambda n: reg.check(n, timeout_s=args.timeout), names)
        results = [r for batch in batches for r in batch]
    reg.close()
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        rows = [["MODEL", "ENDPOINT", "RESULT", "FIRST TOKEN", "TOTAL", "DETAIL"]]
        for r in results:
            ttft = f"{r.ttft_s:.2f}s" if r.ttft_s is not None else "-"
            rows.append([r.model, r.host, "ok" if r.ok else "FAILED", ttft, f"{r.total_s:.2f}s", r.detail])
        print(_table(rows))
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"\n{failed} of {len(results)} endpoint(s) failed")
        return 1
    return 0
