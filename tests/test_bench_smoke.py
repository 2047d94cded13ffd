"""Every benchmark in bench/ runs to the end at a tiny size, so none of them can rot.

Timing is not asserted (figures belong to the benchmarks, not to tests): each script must
exit 0 and print the line that compares it with its baseline, on the backend of the pass
(SQLite in the embedded pass, PostgreSQL in the services pass).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_PLT_bench_inbox_smoke(tmp_path):
    """bench/inbox.py: a few hundred rows, list and conversation against raw SQL (SCL-5)."""
    url = (_pg_url("bench_smoke_inbox") if BACKEND == "services"
           else f"sqlite:///{tmp_path / 'bench_inbox.db'}")
    out = _run([str(BENCH / "inbox.py"), "--database-url", url, "--tickets", "60",
                "--messages", "300", "--repeat", "3"], tmp_path)
    assert "EXPLAIN" in out, out[-2000:]


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
                "--rebuild"], tmp_path, {"BENCH_DATABASE_URL": ""})
    assert "every column equal to facts.record() -> OK" in out, out[-2000:]
    assert "target: year p95 < 1000 ms" in out and "ratio" in out, out[-2000:]
    assert "facts cost per message (new)" in out, out[-2000:]
