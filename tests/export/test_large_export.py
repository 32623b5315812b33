"""A large export runs in bounded memory: peak RSS does not grow with the number of rows.

The export runs in a fresh Python process (so peak RSS, ``ru_maxrss``, belongs to it alone), once for all
N votes and once for a tenth of them; a streaming export peaks at about the same RSS for both, while holding
the rows would need ~100 MiB more for 200k votes. 200k votes on SQLite; 50k on PostgreSQL (server-side
cursor) to keep the suite fast on 2 shared cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from export_seed import EPOCH, bulk_seed
from sqlalchemy import Engine

EXPORT_SCRIPT = """
import json, resource, sys, time
from datetime import datetime
from pathlib import Path
from arena_app.services.export import ExportOptions, export_votes
from arena_app.storage.db import make_engine, make_session_factory
url, out, until = sys.argv[1], sys.argv[2], sys.argv[3]
options = ExportOptions(include_excluded=True, until=datetime.fromisoformat(until) if until else None)
engine = make_engine(url)
start = time.perf_counter()
rows = export_votes(make_session_factory(engine), Path(out), options)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": rows, "seconds": seconds, "max_rss_kib": rss}))
"""


def _export_in_subprocess(url: str, out: Path, until: str = "") -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT, url, str(out), until],
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_large_export_has_bounded_memory(db_url: str, engine: Engine, tmp_path: Path) -> None:
    n = 200_000 if engine.dialect.name == "sqlite" else 50_000
    bulk_seed(engine, n)
    engine.dispose()
    tenth_until = (EPOCH + timedelta(seconds=n // 10 + 1)).isoformat()
    small = _export_in_subprocess(db_url, tmp_path / "small.csv", tenth_until)
    large = _export_in_subprocess(db_url, tmp_path / "all.csv")
    assert small["rows"] == n // 10 and large["rows"] == n
    with (tmp_path / "all.csv").open() as fh:
        assert sum(1 for _ in fh) == n + 1
    growth_mib = (large["max_rss_kib"] - small["max_rss_kib"]) / 1024
    print(
        f"\n{engine.dialect.name}: {n} rows in {large['seconds']:.1f} s, peak RSS "
        f"{large['max_rss_kib'] / 1024:.0f} MiB vs {small['max_rss_kib'] / 1024:.0f} MiB for {n // 10} rows"
    )
    assert growth_mib < 8, f"peak RSS grew by {growth_mib:.1f} MiB from {n // 10} to {n} rows"
