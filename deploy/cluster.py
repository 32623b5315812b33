"""A local cluster: N ``arena serve`` replicas on one PostgreSQL database behind nginx, on loopback.

    scripts/cluster start --database-url postgresql+psycopg://postgres@127.0.0.1:5432/arena --replicas 2
    scripts/cluster status
    scripts/cluster stop

``start`` migrates the database (``arena db upgrade``; ``--no-migrate`` skips it), starts the replicas
(``--ports`` or free ports) with ``--trusted-proxies 127.0.0.1``, renders ``deploy/nginx.conf.template``
into ``RUN_DIR/nginx/`` and starts nginx from that prefix, waits until every replica and the balancer
answer ``GET /config``, writes ``RUN_DIR/cluster.json`` and returns; the processes keep running in their
own sessions with their logs in ``RUN_DIR``. ``stop`` ends exactly the processes named there (checking
each pid's command line first) and ``status`` reports them. Arguments after ``--`` go to every
``arena serve``. The database URL is passed to the replicas in their environment, never written to disk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
DEFAULT_RUN_DIR = Path(tempfile.gettempdir()) / "arena-cluster"
NGINX = os.environ.get("ARENA_NGINX", shutil.which("nginx") or "/usr/sbin/nginx")


class ClusterError(Exception):
    """A cluster operation failed; the message says what and where to look."""


@dataclass
class Proc:
    name: str
    pid: int
    port: int
    log: str
    marker: str  # must appear in /proc/PID/cmdline before the pid is signalled (no reused pid is hit)


@dataclass
class ClusterInfo:
    url: str
    run_dir: str
    replicas: list[Proc]
    nginx: Proc

    def save(self) -> None:
        path = Path(self.run_dir) / "cluster.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, run_dir: Path) -> ClusterInfo:
        path = run_dir / "cluster.json"
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ClusterError(f"no cluster in {run_dir} ({path.name} not found)") from exc
        return cls(raw["url"], raw["run_dir"], [Proc(**p) for p in raw["replicas"]], Proc(**raw["nginx"]))

    def procs(self) -> list[Proc]:
        return [self.nginx, *self.replicas]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render_nginx_conf(prefix: Path, listen_port: int, replica_ports: list[int], workers: int = 1) -> str:
    """The nginx configuration for these replicas, every path inside ``prefix``."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in replica_ports)
    values = {
        "PREFIX": str(prefix),
        "LISTEN": f"127.0.0.1:{listen_port}",
        "UPSTREAM_SERVERS": servers,
        "WORKER_PROCESSES": str(workers),
        "COOKIE_SECURE": "",  # loopback is plain HTTP; behind TLS use "; Secure"
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise ClusterError(f"{TEMPLATE.name}: unrendered placeholder near {text[text.index('{{') :][:40]!r}")
    return text


def nginx_argv(prefix: Path) -> list[str]:
    return [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "logs/error.log")]


def write_nginx_prefix(prefix: Path, listen_port: int, replica_ports: list[int], workers: int = 1) -> Path:
    """Create the prefix (conf, logs/, temp/) and check the configuration with ``nginx -t``."""
    for sub in ("logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render_nginx_conf(prefix, listen_port, replica_ports, workers))
    check = subprocess.run([*nginx_argv(prefix), "-t", "-q"], capture_output=True, text=True)
    if check.returncode != 0:
        raise ClusterError(f"nginx -t failed for {conf}:\n{check.stderr.strip()}")
    return conf


def _alive(proc: Proc) -> bool:
    """The pid exists and is still the process we started (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ")
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
    except OSError:
        return False
    return proc.marker.encode() in cmdline and stat[stat.rindex(")") + 2] != "Z"


def answers(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/config", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _spawn(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _wait_until_answering(procs: list[tuple[Proc, subprocess.Popen[bytes], str]], timeout: float) -> None:
    """Poll ``GET /config`` of each; the Popen handle (not /proc) tells whether a process died meanwhile:
    right after the fork the child's command line is still its parent's."""
    deadline = time.monotonic() + timeout
    waiting = list(procs)
    while waiting:
        for item in list(waiting):
            proc, child, url = item
            if child.poll() is not None:
                raise ClusterError(
                    f"{proc.name} (pid {proc.pid}) exited with {child.returncode}; its log {proc.log}:\n"
                    + _log_tail(proc.log)
                )
            if answers(url, timeout=2):
                waiting.remove(item)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(p.name for p, _, _ in waiting)
            raise ClusterError(f"{names} did not answer GET /config within {timeout:.0f} s")
        if waiting:
            time.sleep(0.3)


def _end_children(children: list[subprocess.Popen[bytes]], timeout: float = 20.0) -> None:
    """Stop what this call started (by handle: valid even before the children have exec'd)."""
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(5)


def start(
    run_dir: Path,
    database_url: str,
    replicas: int = 2,
    ports: list[int] | None = None,
    listen_port: int = 0,
    endpoints: Path | None = None,
    serve_args: list[str] | None = None,
    migrate: bool = True,
    wait_s: float = 240.0,
    env: dict[str, str] | None = None,
) -> ClusterInfo:
    """Start the cluster; on any failure everything already started is stopped again."""
    if not database_url.startswith("postgresql"):
        raise ClusterError("replicas share one PostgreSQL database; pass a postgresql+psycopg:// URL")
    if ports is not None and len(ports) != replicas:
        raise ClusterError(f"--ports names {len(ports)} ports for {replicas} replicas")
    if (run_dir / "cluster.json").exists() and any(_alive(p) for p in ClusterInfo.load(run_dir).procs()):
        raise ClusterError(f"a cluster is already running from {run_dir}; run `scripts/cluster stop` first")
    run_dir.mkdir(parents=True, exist_ok=True)
    arena = str(Path(sys.executable).with_name("arena"))
    child_env = {**os.environ, **(env or {}), "ARENA_DATABASE_URL": database_url}
    child_env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    child_env.setdefault("HF_HUB_OFFLINE", "1")
    if migrate:
        done = subprocess.run([arena, "db", "upgrade"], env=child_env, capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError(f"arena db upgrade failed:\n{done.stderr.strip()[-2000:]}")
    ports = ports or [free_port() for _ in range(replicas)]
    listen_port = listen_port or free_port()
    prefix = run_dir / "nginx"
    write_nginx_prefix(prefix, listen_port, ports)
    info = ClusterInfo(
        f"http://127.0.0.1:{listen_port}", str(run_dir), [], Proc("nginx", 0, listen_port, "", str(prefix))
    )
    children: list[subprocess.Popen[bytes]] = []
    try:
        for i, port in enumerate(ports, 1):
            log = run_dir / f"replica-{i}.log"
            log.write_bytes(b"")  # a fresh log per start
            argv = [
                arena,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--trusted-proxies",
                "127.0.0.1",
            ]
            if endpoints is not None:
                argv += ["--endpoints", str(endpoints)]
            children.append(_spawn(argv + list(serve_args or []), log, child_env))
            info.replicas.append(Proc(f"replica-{i}", children[-1].pid, port, str(log), f"--port {port}"))
            info.save()  # so `stop` finds what started even if this command is killed half way
        deadline = time.monotonic() + wait_s
        replica_urls = [f"http://127.0.0.1:{p.port}" for p in info.replicas]
        _wait_until_answering(list(zip(info.replicas, children, replica_urls, strict=True)), wait_s)
        # nginx only once every replica answers: a refused connection would mark a replica down for a while
        log = prefix / "logs/error.log"
        children.append(_spawn(nginx_argv(prefix), log, child_env))
        info.nginx = Proc("nginx", children[-1].pid, listen_port, str(log), str(prefix))
        info.save()
        _wait_until_answering([(info.nginx, children[-1], info.url)], max(10.0, deadline - time.monotonic()))
    except BaseException:
        _end_children(children)
        (run_dir / "cluster.json").unlink(missing_ok=True)
        raise
    return info


def _signal(proc: Proc, sig: int) -> None:
    if _alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # the process started its own session: its group is its pid


def stop(info: ClusterInfo, timeout: float = 20.0) -> list[str]:
    """Stop nginx (graceful quit), then the replicas (SIGTERM, SIGKILL after ``timeout``). Returns notes."""
    notes = []
    for proc, sig in [(info.nginx, signal.SIGQUIT)] + [(r, signal.SIGTERM) for r in info.replicas]:
        if proc.pid:
            _signal(proc, sig)
    deadline = time.monotonic() + timeout
    for proc in info.procs():
        while proc.pid and _alive(proc) and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.pid and _alive(proc):
            _signal(proc, signal.SIGKILL)
            notes.append(f"{proc.name} (pid {proc.pid}) did not stop within {timeout:.0f} s: killed")
    cluster_json = Path(info.run_dir) / "cluster.json"
    if cluster_json.exists():
        cluster_json.replace(cluster_json.with_name("cluster.stopped.json"))
    return notes


def status(info: ClusterInfo) -> list[tuple[str, bool, bool]]:
    """(name, process alive, answering) for nginx and every replica."""
    rows = []
    for proc in info.procs():
        url = info.url if proc is info.nginx else f"http://127.0.0.1:{proc.port}"
        alive = _alive(proc)
        rows.append((f"{proc.name} pid {proc.pid} {url}", alive, alive and answers(url)))
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    serve_args: list[str] = []
    if "--" in argv:
        serve_args = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    ap = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["start", "stop", "status"])
    ap.add_argument(
        "--run-dir", type=Path, default=Path(os.environ.get("ARENA_CLUSTER_DIR", DEFAULT_RUN_DIR))
    )
    ap.add_argument("--database-url", default=os.environ.get("ARENA_DATABASE_URL", ""))
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--ports", help="comma-separated replica ports (default: free ports)")
    ap.add_argument("--listen-port", type=int, default=8080, help="nginx port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--endpoints", type=Path, help="the endpoint file every replica serves")
    ap.add_argument("--no-migrate", action="store_true", help="do not run `arena db upgrade` first")
    ap.add_argument("--wait", type=float, default=240.0, help="seconds to wait for every process to answer")
    args = ap.parse_args(argv)
    run_dir = args.run_dir.resolve()
    try:
        if args.command == "start":
            if not 1 <= args.replicas <= 32:
                ap.error("--replicas must be 1..32")
            ports = [int(p) for p in args.ports.split(",")] if args.ports else None
            info = start(
                run_dir,
                args.database_url,
                replicas=args.replicas,
                ports=ports,
                listen_port=args.listen_port,
                endpoints=args.endpoints,
                serve_args=serve_args,
                migrate=not args.no_migrate,
                wait_s=args.wait,
            )
            print(f"cluster: {len(info.replicas)} replicas behind {info.url} (run dir {run_dir})")
        elif args.command == "stop":
            for note in stop(ClusterInfo.load(run_dir)):
                print(f"cluster: {note}", file=sys.stderr)
            print(f"cluster: stopped ({run_dir})")
        else:
            rows = status(ClusterInfo.load(run_dir))
            for name, alive, answering in rows:
                state = ("running" if alive else "not running") + (", answering" if answering else "")
                print(f"{name}: {state}")
            return 0 if all(answering for _, _, answering in rows) else 1
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
