"""A production-shaped Atende on one machine (SCL-1): `make cluster`, `make cluster-stop`.

    .venv/bin/python deploy/cluster.py start [--web 2] [--workers 2] [--port 8080]
        [--database-url URL] [--redis-port 6390 | --redis-url URL] [--state-dir DIR] [--no-demo]
    .venv/bin/python deploy/cluster.py stop [--state-dir DIR]
    .venv/bin/python deploy/cluster.py status [--state-dir DIR]

It starts exactly the processes a real deployment runs (the process list of README
"Produção"), each with the same environment:

- its own redis-server (on --redis-port, nothing kept on disk), unless --redis-url;
- N web processes: gunicorn with deploy/gunicorn.conf.py on 127.0.0.1:8101, 8102, ...;
- N RQ workers with the scheduler (backoffice.jobs.worker.AtendeWorker);
- one sweeper (`flask inbox sweeper`: automation ticks and the re-queue of stalled work);
- nginx from the distribution, with deploy/nginx/atende.conf rendered for these ports.

The database is migrated (and the demo loaded on its first run unless --no-demo) before
any process starts. SECRET_KEY and ENCRYPTION_KEYS are generated once into the state
directory, so every process and every restart shares them. DIR/cluster.json lists what
runs, with pids; `stop` ends those processes only (a pid is signalled only while its
command line still names this state directory), never anything else on the machine.
The tests of tests/cluster import this module to start, kill and restart processes.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_STATE = ROOT / "instance" / "cluster"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/atende_cluster"
WEB_BASE_PORT = 8100  # web process i listens on WEB_BASE_PORT + i
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class ClusterError(RuntimeError):
    pass


# --- state ---------------------------------------------------------------------------

def _state_file(state: Path) -> Path:
    return state / "cluster.json"


def load(state: Path = DEFAULT_STATE) -> dict | None:
    try:
        return json.loads(_state_file(state).read_text())
    except FileNotFoundError:
        return None


def _save(state: Path, info: dict) -> None:
    _state_file(state).write_text(json.dumps(info, indent=2))


def _secret(state: Path, name: str, make) -> str:
    path = state / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def environment(state: Path, database_url: str, redis_url: str) -> dict:
    """The one environment of every process (README "Produção": the same everywhere)."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    for leftover in ("ATENDE_TEST_BACKEND", "TEST_DATABASE_URL", "TEST_REDIS_URL"):
        env.pop(leftover, None)
    env.update({
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SOCKETIO_MESSAGE_QUEUE": redis_url,
        "TASK_MODE": "redis",
        "SECRET_KEY": _secret(state, "secret_key", lambda: secrets.token_hex(32)),
        "ENCRYPTION_KEYS": _secret(state, "encryption_key", lambda: Fernet.generate_key().decode()),
        "ATENDE_INSTANCE": str(state / "instance"),  # uploads shared by every process
        "WEBCHAT_PROXY_HOPS": env.get("WEBCHAT_PROXY_HOPS", "1"),  # nginx adds one hop
        "PYTHONUNBUFFERED": "1",
    })
    return env


# --- processes -------------------------------------------------------------------------

def _started(pid: int) -> str | None:
    """The start time of `pid` (clock ticks since boot), or None when it does not run."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _alive(proc: dict | None) -> bool:
    """True while the process `_spawn` started still runs: the same pid with the same
    start time (a reused pid is someone else's, and is never signalled)."""
    if not proc or not proc.get("pid"):
        return False
    return _started(proc["pid"]) == proc.get("started")


def _spawn(name: str, args: list[str], env: dict, state: Path) -> dict:
    log = open(state / f"{name}.log", "ab")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    return {"name": name, "pid": proc.pid, "started": _started(proc.pid), "args": args,
            "log": str(state / f"{name}.log")}


def _wait_http(url: str, timeout: float, what: str, proc: dict | None = None,
               state: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and state is not None and not _alive(proc):
            raise ClusterError(f"{what} saiu ao iniciar; veja {proc['log']}:\n{_tail(proc['log'])}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise ClusterError(f"{what} não respondeu em {timeout:.0f} s ({last})")


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def _free(port: int, what: str) -> None:
    """Refuse a port another program holds: a leftover server there would answer the
    health check in place of ours (and with another SECRET_KEY)."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ClusterError(f"a porta {port} ({what}) já está em uso por outro programa; "
                               f"encerre-o (make cluster-stop?) ou escolha outra porta") from None


def _flask(env: dict, *args: str) -> None:
    done = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise ClusterError(f"flask {' '.join(args)} falhou:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def create_database(url: str) -> None:
    from sqlalchemy import create_engine, make_url, text

    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": u.database}):
                conn.exec_driver_sql(f'CREATE DATABASE "{u.database}"')
    finally:
        admin.dispose()


def start_redis(state: Path, port: int) -> dict:
    _free(port, "Redis do cluster")
    proc = _spawn("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no", "--dir", str(state),
                            "--logfile", "", "--pidfile", str(state / "redis.pid")],
                  dict(os.environ), state)
    import redis

    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=1).ping()
            return proc
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise ClusterError(f"redis-server na porta {port} não subiu:\n{_tail(proc['log'])}")
            time.sleep(0.1)


def start_web(state: Path, env: dict, index: int, wait: bool = True,
              base_port: int = WEB_BASE_PORT) -> dict:
    port = base_port + index + 1
    _free(port, f"processo web {index + 1}")
    proc = _spawn(f"web-{index + 1}", [
        str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "--name", f"atende-web-{index + 1}",
        "--pid", str(state / f"web-{index + 1}.pid"), "app:app"], env, state)
    proc["url"] = f"http://127.0.0.1:{port}"
    if wait:
        _wait_http(proc["url"] + "/login", 60, f"o processo web {index + 1}", proc, state)
    return proc


def start_worker(state: Path, env: dict, index: int) -> dict:
    return _spawn(f"worker-{index + 1}", [
        str(BIN / "rq"), "worker", "--worker-class", "backoffice.jobs.worker.AtendeWorker",
        "--with-scheduler", "--url", env["REDIS_URL"], "--path", str(ROOT),
        "--logging_level", "WARNING", "default"], env, state)


def start_sweeper(state: Path, env: dict, interval: int | None = None) -> dict:
    args = [str(BIN / "flask"), "--app", "app", "inbox", "sweeper"]
    if interval:
        args += ["--interval", str(interval)]
    return _spawn("sweeper", args, env, state)


def render_nginx(state: Path, port: int, webs: list[dict]) -> Path:
    template = (ROOT / "deploy" / "nginx" / "atende.conf").read_text()
    head, rest = template.split("    # -- web processes --\n")
    _, tail = rest.split("    # -- end --\n")
    servers = "".join(f"    server {w['url'][len('http://'):]} max_fails=1 fail_timeout=5s;\n"
                      for w in webs)
    body = (head + servers + tail).replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
    # Which process answered, for the cluster's tests and bench/load.py (not for production).
    cookie = "        add_header Set-Cookie $atende_route_cookie always;\n"
    body = body.replace(cookie, cookie + "        add_header X-Atende-Upstream $upstream_addr always;\n")
    temp = state / "nginx"
    temp.mkdir(exist_ok=True)
    conf = state / "nginx.conf"
    conf.write_text(
        f"# rendered by deploy/cluster.py from deploy/nginx/atende.conf\n"
        f"daemon off;\nworker_processes 1;\npid {state}/nginx.pid;\n"
        f"error_log {state}/nginx-error.log warn;\n"
        f"events {{ worker_connections 4096; }}\n"
        f"http {{\n    access_log off;\n"
        + "".join(f"    {kind}_temp_path {temp}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + body + "}\n")
    return conf


def start_nginx(state: Path, port: int, webs: list[dict]) -> dict:
    if not Path(NGINX).exists():
        raise ClusterError("nginx não está instalado: apt-get install -y nginx-light "
                           "(o `make cluster` instala quando roda como root)")
    _free(port, "nginx")
    conf = render_nginx(state, port, webs)
    check = subprocess.run([NGINX, "-t", "-q", "-c", str(conf), "-p", str(state)],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise ClusterError(f"configuração do nginx inválida:\n{check.stderr}")
    proc = _spawn("nginx", [NGINX, "-c", str(conf), "-p", str(state)], dict(os.environ), state)
    proc["url"] = f"http://127.0.0.1:{port}"
    _wait_http(proc["url"] + "/login", 15, "o nginx", proc, state)
    return proc


# --- commands ----------------------------------------------------------------------------

def start(state: Path = DEFAULT_STATE, web: int = 2, workers: int = 2, port: int = 8080,
          database_url: str = DEFAULT_DATABASE, redis_port: int = 6390,
          redis_url: str | None = None, demo: bool = True, web_base_port: int = WEB_BASE_PORT,
          extra_env: dict | None = None, sweep_interval: int | None = None) -> dict:
    state = Path(state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    running = load(state)
    if running and any(_alive(p) for p in processes(running)):
        raise ClusterError(f"já há um cluster rodando em {state}: `make cluster-stop` antes")
    info: dict = {"state_dir": str(state), "database_url": database_url,
                  "web_base_port": web_base_port, "extra_env": extra_env or {}}
    try:
        if redis_url is None:
            info["redis"] = start_redis(state, redis_port)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            info["redis"]["url"] = redis_url
        else:
            info["redis"] = {"url": redis_url, "pid": None, "name": "redis (externo)"}
        _save(state, info)
        env = {**environment(state, database_url, redis_url), **(extra_env or {})}
        create_database(database_url)
        _flask(env, "db", "upgrade")
        if demo:
            _flask(env, "seed", "demo")
            _flask(env, "reports", "rebuild")
        info["web"] = [start_web(state, env, i, wait=False, base_port=web_base_port)
                       for i in range(web)]
        _save(state, info)
        for i, proc in enumerate(info["web"]):
            _wait_http(proc["url"] + "/login", 60, f"o processo web {i + 1}", proc, state)
        info["workers"] = [start_worker(state, env, i) for i in range(workers)]
        info["sweeper"] = start_sweeper(state, env, sweep_interval)
        _save(state, info)
        info["nginx"] = start_nginx(state, port, info["web"])
        info["proxy"] = info["nginx"]["url"]
        _save(state, info)
    except BaseException:
        stop(state)
        raise
    return info


def environment_of(info: dict) -> dict:
    """The environment the processes of a running cluster were started with."""
    state = Path(info["state_dir"])
    return {**environment(state, info["database_url"], info["redis"]["url"]),
            **info.get("extra_env", {})}


def restart(info: dict, name: str) -> dict:
    """Start again one process of a running cluster ("web-1", "worker-2", "redis"), with
    the cluster's environment, and record its new pid in the state file."""
    state = Path(info["state_dir"])
    env = environment_of(info)
    kind, _, number = name.partition("-")
    if kind == "redis":
        url = info["redis"]["url"]
        info["redis"] = {**start_redis(state, int(url.rsplit(":", 1)[1].split("/")[0])), "url": url}
        proc = info["redis"]
    elif kind == "web":
        index = int(number) - 1
        proc = info["web"][index] = start_web(state, env, index,
                                              base_port=info.get("web_base_port", WEB_BASE_PORT))
    elif kind == "worker":
        index = int(number) - 1
        proc = info["workers"][index] = start_worker(state, env, index)
    else:
        raise ClusterError(f"processo desconhecido: {name}")
    _save(state, info)
    return proc


def processes(info: dict) -> list[dict]:
    found = []
    for key in ("nginx", "sweeper", "redis"):
        if info.get(key) and info[key].get("pid"):
            found.append(info[key])
    found[1:1] = list(info.get("workers", [])) + list(info.get("web", []))
    return found


def stop_process(proc: dict, state: Path, timeout: float = 10.0,
                 sig: int = signal.SIGTERM) -> None:
    pid = proc.get("pid")
    if not _alive(proc):
        return
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(proc) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(proc):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while _alive(proc) and time.monotonic() < deadline + 5:
            time.sleep(0.05)


def stop(state: Path = DEFAULT_STATE) -> list[str]:
    """End the proxy first (no new requests), then web, workers, sweeper, Redis last."""
    state = Path(state).resolve()
    info = load(state)
    if not info:
        return []
    stopped = []
    for proc in processes(info):
        if _alive(proc):
            stop_process(proc, state)
            stopped.append(f"{proc['name']} ({proc['pid']})")
    _state_file(state).unlink(missing_ok=True)
    return stopped


def status(state: Path = DEFAULT_STATE) -> list[str]:
    info = load(Path(state).resolve())
    if not info:
        return []
    return [f"{p['name']:<10} pid {p['pid']:<8} {'rodando' if _alive(p) else 'parado'}"
            + (f"  {p['url']}" if p.get("url") else "") for p in processes(info)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "stop", "status"):
        p = sub.add_parser(name)
        p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
        if name == "start":
            p.add_argument("--web", type=int, default=2)
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--port", type=int, default=8080)
            p.add_argument("--database-url", default=os.environ.get("CLUSTER_DATABASE_URL", DEFAULT_DATABASE))
            p.add_argument("--redis-port", type=int, default=6390)
            p.add_argument("--redis-url", default=None)
            p.add_argument("--no-demo", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            info = start(args.state_dir, args.web, args.workers, args.port, args.database_url,
                         args.redis_port, args.redis_url, not args.no_demo)
            print(f"Atende em cluster: {info['proxy']} (nginx, sessões fixas por navegador)")
            for line in status(args.state_dir):
                print("  " + line)
            print(f"Logs e estado em {info['state_dir']}; `make cluster-stop` encerra.")
            if not args.no_demo:
                print("Login: admin@demo.atende.local / demo12345")
        elif args.command == "stop":
            stopped = stop(args.state_dir)
            print("encerrados: " + (", ".join(stopped) if stopped else "nada rodando"))
        else:
            lines = status(args.state_dir)
            print("\n".join(lines) if lines else "nenhum cluster rodando")
    except ClusterError as exc:
        print(f"erro: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
