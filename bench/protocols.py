"""Protocol numbers (CO-2): numbers/second through the service vs the bare SQL statement.

The service adds the ORM session, the company time zone and formatting on top of one
UPDATE ... RETURNING; this shows what that costs. Each number is its own transaction,
as when tickets are opened one by one.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.services import protocols, saas  # noqa: E402

N = int(os.environ.get("BENCH_N", "2000"))


def main() -> None:
    os.environ.setdefault("ATENDE_INSTANCE", tempfile.mkdtemp())
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{os.environ['ATENDE_INSTANCE']}/bench.db"
    app = create_app({"TASK_MODE": "eager", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                      "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://")})
    with app.app_context():
        db.drop_all()
        db.create_all()
        company, _ = saas.create_company("Bench", None, "Admin", "bench@example.com", "senha-bench-1")
        db.session.commit()

        def timed(fn):
            samples = []
            for _ in range(N):
                t0 = time.perf_counter()
                fn()
                db.session.commit()
                samples.append(time.perf_counter() - t0)
            return samples

        raw = text("UPDATE protocol_sequence SET counter = counter + 1 "
                   "WHERE company_id = :c RETURNING counter")
        base = timed(lambda: db.session.execute(raw, {"c": company.id}).scalar_one())
        svc = timed(lambda: protocols.next_protocol(company))
        db.drop_all()

    def line(name, s):
        return (f"{name:<22} {N / sum(s):>9.0f} numbers/s   median {statistics.median(s) * 1e3:.3f} ms"
                f"   p95 {sorted(s)[int(len(s) * .95)] * 1e3:.3f} ms")

    print(f"backend: {url.split(':')[0]}   N={N}")
    print(line("raw SQL (baseline)", base))
    print(line("services.protocols", svc))
    print(f"ratio service/raw (median latency): {statistics.median(svc) / statistics.median(base):.2f}x")


if __name__ == "__main__":
    main()
