"""``arena models`` (list the configured models) and ``arena models check`` (send each a tiny request).

The listing shows each model's upstream name, api_type, pools (battle / chat), weight, organization,
endpoint hosts (never full URLs or keys), where its key comes from and whether it is set; with ``--demo``
also the demo models, whose health is the state of the demo worker of a running ``arena serve --demo``
(up / restarting / down, and how often it was restarted). ``check`` sends
"Reply with the word OK." to every endpoint of every (or each named) model and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands
    from arena_app.services.model_admin import WorkerStatus


SETTINGS = ("endpoints_file", "demo", "cache_dir")


def register(sub: Subcommands) -> None:
    models = add_command(
        sub,
        "models",
        settings=SETTINGS,
        help="list the models of the endpoint file, or check that they answer",
        description="List the models configured in the endpoint file (--endpoints-file, default "
        "./api_endpoints.json): pools, endpoints, key source and health. Keys are never shown.",
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(func=_list)
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")
    check = add_command(
        actions,
        "check",
        settings=("endpoints_file",),
        help="send a tiny request to every endpoint; exit 1 if any fails",
    )
    check.add_argument("names", nargs="*", metavar="MODEL", help="models to check (default: all)")
    check.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="seconds allowed per endpoint (default 30)"
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(func=_check)


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
    from arena_app.services.model_admin import list_models  # the providers import the SDKs: only here

    listing = list_models(settings)
    if args.json:
        out = []
        for m in listing:
            item = asdict(m.info)
            item.update(key_source=m.key_source, key_configured=m.key_configured, healthy=m.healthy)
            if m.demo:
                item["worker"] = asdict(m.worker) if m.worker is not None else {"state": "down"}
            out.append(item)
        print(json.dumps(out, indent=2))
        return 0
    rows = [
        ["MODEL", "UPSTREAM NAME", "TYPE", "POOLS", "WEIGHT", "ORGANIZATION", "ENDPOINTS", "KEY", "HEALTH"]
    ]
    missing = []
    for m in listing:
        info = m.info
        pools = "+".join(p for p, on in (("battle", info.battle), ("chat", info.chat)) if on)
        key = _key_label(m.key_source, m.key_configured)
        if key.endswith("MISSING"):
            missing.append(info.name)
        state = "no key" if key.endswith("MISSING") else "ok" if m.healthy else "cooling down"
        if m.demo:
            state = _worker_state(m.worker)
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
    if missing:
        print(f"\n{len(missing)} model(s) have no key: set the environment variables shown as MISSING.")
    return 0


def _worker_state(worker: WorkerStatus | None) -> str:
    """The HEALTH cell of a demo model: its worker's state and restarts."""
    if worker is None:
        return "down (no arena serve --demo running)"
    restarts = f"{worker.restarts} restart{'s' if worker.restarts != 1 else ''}"
    return f"worker {worker.state}, {restarts}"


def _check(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.model_admin import check_models  # the providers import the SDKs: only here

    results = check_models(settings, args.names, timeout_s=args.timeout)
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
