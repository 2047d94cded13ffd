"""Every benchmark in bench/ runs to the end at a tiny size, so none of them can rot.

Timing is not asserted (figures belong to the benchmarks, not to tests): each script must
exit 0 and print the line that compares it with its baseline, on the backend of the pass
(SQLite in the embedded pass, PostgreSQL in the services pass).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import BACKEND, PG_URL, _check_postgres, missing_service

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _pg_url(database: str) -> str:
    problem = _check_postgres()
    if problem:
        missing_service(problem)
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _run(args: list[str], tmp_path: Path, env: dict | None = None) -> str:
    full_env = {**os.environ, "ATENDE_INSTANCE": str(tmp_path / "instance"), **(env or {})}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_PLT_bench_import_smoke(tmp_path):
    """bench/import.py: 300 rows, the real import against the naive one (IMP-4)."""
    args = [str(BENCH / "import.py"), "--rows", "300", "--data-dir", str(tmp_path / "data"),
            "--batch-size", "100"]
    if BACKEND == "services":
        args += ["--backends", "postgresql", "--postgresql-url", _pg_url("bench_smoke_import")]
    else:
        args += ["--backends", "sqlite"]
    out = _run(args, tmp_path)
    assert "target:" in out and "rows/s" in out, out[-2000:]
    assert "FAILED" not in out, out[-2000:]
    # the bench's own check of counters, contacts, CPFs and tag links against the file
    assert "MISMATCH" not in out and " OK" in out, out[-2000:]
    if BACKEND == "services":  # the same rows by a bare COPY, the run's own reference
        assert "by a bare COPY" in out and "% of it" in out, out[-2000:]


def test_PLT_bench_inbox_smoke(tmp_path):
    """bench/inbox.py: a few hundred rows, list and conversation against raw SQL (SCL-5)."""
    url = (_pg_url("bench_smoke_inbox") if BACKEND == "services"
           else f"sqlite:///{tmp_path / 'bench_inbox.db'}")
    out = _run([str(BENCH / "inbox.py"), "--database-url", url, "--tickets", "60",
                "--messages", "300", "--repeat", "3"], tmp_path)
    assert "EXPLAIN" in out, out[-2000:]
    # the conversation is compared with SQL returning what the endpoint returns
    assert "SELECTs returning what the endpoint returns" in out, out[-2000:]


def test_PLT_bench_protocols_smoke(tmp_path):
    """bench/protocols.py: protocol numbers through the service against the bare UPDATE."""
    env = {"BENCH_N": "20"}
    if BACKEND == "services":
        env["DATABASE_URL"] = _pg_url("bench_smoke_protocols")
        from sqlalchemy import create_engine, text

        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'bench_smoke_protocols'")):
                conn.exec_driver_sql('CREATE DATABASE "bench_smoke_protocols"')
        admin.dispose()
    out = _run([str(BENCH / "protocols.py")], tmp_path, env)
    assert "ratio service/raw" in out, out[-2000:]


def test_PLT_bench_channels_smoke(tmp_path):
    """bench/channels.py: a few WhatsApp webhooks through /hooks against the bare endpoint,
    their processing, and POST -> agent's socket for a second (CHN-2, issue 12 point 7):
    it runs to the end and no acknowledged message is lost or pushed twice."""
    from tests.conftest import REDIS_URL

    args = [str(BENCH / "channels.py"), "--messages", "10", "--contacts", "3",
            "--block", "5", "--rate", "10", "--duration", "1", "--senders", "2",
            "--workers", "1"]
    if BACKEND == "services":
        args += ["--database-url", _pg_url("bench_smoke_channels"), "--redis-url", REDIS_URL]
    else:
        args += ["--database-url", f"sqlite:///{tmp_path / 'bench_channels.db'}"]
    out = _run(args, tmp_path, {"BENCH_DATABASE_URL": "", "BENCH_REDIS_URL": ""})
    assert "ratio route/bare" in out and "items/s" in out and "p99" in out, out[-2000:]
    assert "received 10 of 10   lost 0   duplicated 0" in out, out[-2000:]


def test_PLT_bench_automation_smoke(tmp_path):
    """bench/automation.py (issue 13 point 9): the automation tick at two tiny sizes against
    the bare SELECT of what is due, and messages through a 5-node entry flow against plain
    intake (AUT-2, AUT-4): it runs to the end and prints both comparisons."""
    url = (_pg_url("bench_smoke_automation") if BACKEND == "services"
           else f"sqlite:///{tmp_path / 'bench_automation.db'}")
    out = _run([str(BENCH / "automation.py"), "--database-url", url, "--tickets", "300",
                "--due", "6", "--repeat", "2", "--customers", "4", "--block", "2"], tmp_path,
               {"DATABASE_URL": ""})
    assert "statements per first tick" in out and "ratio flow/plain" in out, out[-2000:]
    assert "ratio busy tick/bare SELECT" in out, out[-2000:]


def test_PLT_bench_api_smoke(tmp_path):
    """bench/api.py (issue 15, WHK-1, API-1): a few webhook deliveries through the delivery
    job's body against a local receiver, beside bare outbound.post calls, and a few messages
    through POST /api/v1/messages beside the inbox's service: it runs to the end, every
    delivery is delivered, and it prints the rates and the ratios."""
    url = (_pg_url("bench_smoke_api") if BACKEND == "services"
           else f"sqlite:///{tmp_path / 'bench_api.db'}")
    out = _run([str(BENCH / "api.py"), "--database-url", url, "--deliveries", "12",
                "--messages", "8", "--block", "4"], tmp_path, {"DATABASE_URL": ""})
    assert "delivered 12 of 12" in out, out[-2000:]
    assert "messages per second through the API" in out, out[-2000:]
    assert "ratio API/inbox service" in out, out[-2000:]
    assert "webhook deliveries per second per worker" in out, out[-2000:]
    assert "ratio delivery job/bare post" in out, out[-2000:]


def test_PLT_bench_reports_smoke(tmp_path):
    """bench/reports.py (issue 16, REP-1): 300 generated tickets whose SQL-computed facts
    match facts.record, each report for a month and a year beside the raw SQL over the
    tickets, and the intake with the facts listeners on and off: it runs to the end."""
    url = (_pg_url("bench_smoke_reports") if BACKEND == "services"
           else f"sqlite:///{tmp_path / 'bench_reports.db'}")
    out = _run([str(BENCH / "reports.py"), "--database-url", url, "--tickets", "300",
                "--messages-per-ticket", "2", "--runs", "2", "--intake", "4", "--block", "2",
                "--rebuild", "--explain", "all"], tmp_path, {"BENCH_DATABASE_URL": ""})
    assert "every column equal to facts.record() -> OK" in out, out[-2000:]
    assert "target: year p95 < 1000 ms" in out and "ratio" in out, out[-2000:]
    # every report's slowest query has its plan printed (a SET among its statements was
    # once picked as the slowest, and EXPLAIN refused it)
    assert out.count("of the slowest statement of") == 20, out[-2000:]
    assert "facts cost per message (new)" in out, out[-2000:]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_PLT_bench_load_smoke(tmp_path):
    """bench/load.py (issue 17 point 3, SCL-3) at a tiny size: 5 agents and a supervisor
    log in through the form and connect by Socket.IO, 3 website visitors start
    conversations, then two steps and a hold of messages: it runs to the end and every
    acknowledged message reached every agent of its department and the supervisor once
    (0 lost, 0 duplicated). Embedded pass: `python app.py` on SQLite; services pass: the
    cluster of deploy/cluster.py where nginx is installed, else one web process and one
    rq worker on PostgreSQL + Redis."""
    import re
    import shutil

    from tests.conftest import REDIS_URL, _check_redis

    args = [str(BENCH / "load.py"), "--companies", "1", "--departments", "1",
            "--agents-per-department", "5", "--visitors-per-department", "3",
            "--steps", "3,6", "--step-seconds", "2", "--hold", "3", "--settle", "1",
            "--client-processes", "1",
            "--state-dir", str(tmp_path / "load"), "--embedded-port", str(_free_port()),
            "--single-port", str(_free_port()), "--cluster-port", str(_free_port()),
            "--cluster-redis-port", str(_free_port()), "--cluster-web-port", "8290"]
    if BACKEND == "services":
        target = "cluster" if shutil.which("nginx") and shutil.which("redis-server") else "single"
        if target == "single":
            problem = _check_redis()
            if problem:
                missing_service(problem)
        args += ["--targets", target, "--database-url", _pg_url("bench_load_smoke"),
                 "--redis-url", REDIS_URL]
    else:
        target = "embedded"
        args += ["--targets", target]
    out = _run(args, tmp_path, {"BENCH_DATABASE_URL": "", "DATABASE_URL": "", "REDIS_URL": ""})
    assert "final table" in out and "sustained" in out, out[-3000:]
    found = re.search(rf"check {target}: delivered (\d+) of (\d+)   lost (\d+)   duplicated (\d+)",
                      out)
    assert found, out[-3000:]
    delivered, expected, lost, duplicated = map(int, found.groups())
    assert expected > 0 and delivered == expected, out[-3000:]
    assert (lost, duplicated) == (0, 0), out[-3000:]


def test_PLT_bench_inbound_smoke(tmp_path):
    """bench/inbound_profile.py (issue 17 point 3, SCL-3): a few website-chat messages and
    starts through the widget's API, each with its CPU, SQL statements and Redis commands,
    beside bare INSERTs of a message row; each listener module's cost, the SQL of one
    message and one start, and a cProfile: it runs to the end and every message is stored.
    Embedded pass: SQLite + fakeredis; services pass: PostgreSQL + Redis (message queue)."""
    from tests.conftest import REDIS_URL

    args = [str(BENCH / "inbound_profile.py"), "--messages", "10", "--visitors", "2",
            "--agents", "3", "--starts", "2", "--block", "5", "--profile", "5", "--top", "5",
            "--listeners", "5", "--show-sql", "60"]
    if BACKEND == "services":
        args += ["--database-url", _pg_url("bench_smoke_inbound"), "--redis-url", REDIS_URL]
    else:
        args += ["--database-url", f"sqlite:///{tmp_path / 'bench_inbound.db'}"]
    out = _run(args, tmp_path, {"DATABASE_URL": "", "REDIS_URL": ""})
    assert "ratio message/bare INSERT" in out and "POST start" in out, out[-2000:]
    assert "messages stored 15 of 15 -> OK" in out, out[-2000:]
    assert "what each listener module costs" in out and "the SQL of one message" in out, out[-2000:]


def _load_bench(name: str):
    """A bench script as a module (bench/ is a folder of scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("holds, sustained, tried", [
    ({250: True}, 250, [250]),                         # the highest step holds
    ({250: False, 200: True}, 200, [250, 200]),        # it breaks: the next lower one
    ({250: False, 200: False, 100: False}, None, [250, 200, 100]),  # none holds
])
def test_SCL_3_load_bench_reports_the_highest_rate_held_for_the_whole_hold(
        holds, sustained, tried, capsys):
    """bench/load.py's verdict (issue 17 point 3): a hold that breaks at the highest step
    sustained for --step-seconds is tried again at the next lower sustained step, so the
    rate reported is one held for the whole hold; the broken holds' deliveries count in
    the lost/duplicated check like any step's."""
    load = _load_bench("load")
    limit = 100.0

    def result(label, rate, ok, seconds):
        return load.StepResult(label, rate, seconds, sent=10, acked=10, achieved=rate,
                               p50=5.0, p99=50.0 if ok else 500.0, expected=20,
                               delivered=20 if ok else 19, lost=0 if ok else 1)

    class FakeRun:
        def __init__(self):
            self.rates = []

        def step(self, label, rate, seconds, meter):
            self.rates.append(rate)
            return result(label, rate, holds[rate], seconds)

    args = argparse.Namespace(p99_limit=limit, steps=[100, 200, 250, 300], hold=300,
                              settle=0)
    outcome = load.Outcome("cluster")
    outcome.steps = [result(f"s{i}", r, r != 300, 20) for i, r in enumerate(args.steps, 1)]
    run = FakeRun()
    load.hold(run, None, outcome, args)
    assert run.rates == tried
    assert outcome.sustained == sustained
    assert outcome.hold.offered == tried[-1]
    assert [h.offered for h in outcome.broken_holds] == tried[:-1]
    # every hold's deliveries are checked: the four steps and each hold run
    assert outcome.expected == 20 * (len(args.steps) + len(tried))
    assert outcome.lost == 1 + sum(not holds[r] for r in tried)
    capsys.readouterr()
    load.report([outcome], args)
    printed = capsys.readouterr().out
    for broke, then in zip(tried, tried[1:]):
        assert (f"hold cluster: {broke} msg/s broke over 300 s (p99 500.0 ms, achieved "
                f"{broke:.1f}); tried next at {then} msg/s") in printed
    assert printed.count("broke over") == len(tried) - 1
    met = "OK" if sustained is not None and sustained >= 200 else "NOT MET"
    assert "target: cluster >= 200 msg/s sustained with p99 < 100 ms: " in printed
    assert printed.split("sustained with p99 < 100 ms: ")[1].splitlines()[0].endswith(met)


def test_SCL_3_load_bench_without_a_sustained_step_holds_the_first_and_reports_none():
    load = _load_bench("load")
    ran = []

    class FakeRun:
        def step(self, label, rate, seconds, meter):
            ran.append(rate)
            return load.StepResult(label, rate, seconds, sent=5, acked=5, achieved=rate,
                                   p99=10.0, expected=5, delivered=5)

    args = argparse.Namespace(p99_limit=100.0, steps=[50, 100], hold=60, settle=0)
    outcome = load.Outcome("embedded")
    outcome.steps = [load.StepResult("s1", 50, 20, sent=5, acked=5, achieved=50, p99=900.0,
                                     expected=5, delivered=5)]
    load.hold(FakeRun(), None, outcome, args)
    assert ran == [50]                       # held once, at the first step, no stepping down
    assert outcome.sustained is None         # a hold that held cannot make a broken step pass
    assert outcome.broken_holds == []
