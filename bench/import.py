"""Contact import (IMP-1..IMP-4): rows/second and peak memory of services.importer, against
a naive one-ORM-query-per-row import of the same file measured in the same run.

Generates (once, cached in --data-dir) Excel pt-BR CSV files of --rows rows, written with
the csv module here, not with the code under test: ";" separator, Windows-1252, CRLF,
header "Nome;Telefone;E-mail;CPF/CNPJ;Etiquetas;Observações"; unique phones typed as
"(11) 9xxxx-xxxx", "11 9xxxxxxxx" or "+55 11 9 xxxx-xxxx"; about half with a valid CPF
(check digits computed here); 90% with one or two tags of a small set (half of them exist
in the company, the import creates the others); ~1% of rows with a bad phone (rejected).

Then, per backend (--backends) and size, each in a FRESH SUBPROCESS so that its peak
memory is its own, on a freshly rebuilt schema with one company:

  import     data_jobs.import_from_path (stores the file, detects encoding and separator;
             not timed), job set to "queued", then importer.run(job.id, path) timed: rows/s
             = file rows / wall time of importer.run (its counting pass included)
  re-import  the same file again into the same company, "Atualizar registros existentes"
             = Sim with every field ticked: every row matches a contact whose values are
             already the file's, so nothing may change (updated must be 0)
  naive      (100k always, the others with --naive-1m) on a schema rebuilt again: the file
             streamed with csv, each row normalised with the same services
             (phones.normalise_phone, documents.normalise_document, contacts.normalise_email),
             then db.session.scalar(select(Contact).where(company, phone == ...)), a query
             per tag (created when missing) and db.session.add(Contact(...)), a commit every
             1000 rows: the "import inside the request, one query per row" of the field

CPU: the subprocess's own CPU time during importer.run (its ended children included), and
on PostgreSQL the CPU time of every backend process of the bench's database (read from
/proc, same machine; whatever connections the import uses): which side the time is spent
on, whatever the load of the machine does to the wall time.

Memory: the subprocess's peak resident memory at the end (app, upload and import included,
reported as is) and its RSS right before the timed call, so the import's own growth shows.
The peak is VmHWM (/proc/self/status), not ru_maxrss: Linux carries the parent's RSS over
fork/exec into a child's ru_maxrss (printed as "maxrss" for reference, see peak_mb). SQL
statements are counted on the engine. The job's counters and the contacts/tag links in the
database are checked against what the generator wrote. It prints figures; it is not a test.

    .venv/bin/python bench/import.py                          # 100k and 1M, SQLite and PostgreSQL
    .venv/bin/python bench/import.py --rows 20000 --backends sqlite      # a quick look
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from databases import create_missing_database  # noqa: E402  (bench/ is the script's folder)
import people  # noqa: E402  (bench/ is on sys.path as the script's folder)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_import"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "atende-bench-import"
FORMAT_VERSION = 1          # bump when the generator changes: cached files are rebuilt
HEADER = ["Nome", "Telefone", "E-mail", "CPF/CNPJ", "Etiquetas", "Observações"]
PASSWORD = "senha-bench-import-1"
TARGET_ROWS_S, TARGET_MB, TARGET_RATIO = 25_000, 200, 10.0   # SCL-4, IMP-4
NAIVE_COMMIT = 1000

FIRST = people.FIRST + ["Conceição", "Graça", "Irene", "Iara", "Cláudio"]
LAST = people.LAST + ["Magalhães", "Brandão", "Assunção", "Simões", "Conceição"]
CONNECTORS = ["da", "de", "dos", "das", "do"]
DDD = people.DDD
DOMAINS = ["gmail.com", "hotmail.com", "yahoo.com.br", "outlook.com", "uol.com.br",
           "bol.com.br", "terra.com.br", "empresa.com.br"]
TAGS_EXISTING = ["VIP", "Atacado", "Varejo", "Pós-venda"]        # made before the import
TAGS_NEW = ["Inadimplente", "Revenda", "Lead frio", "Indicação"]  # the import creates them
TAGS = TAGS_EXISTING + TAGS_NEW
NOTES = ["Cliente desde 2019", "Prefere contato pelo WhatsApp", "Ligar após as 14h",
         "Comprou no feirão de março; pediu desconto", "Endereço: Rua São João, 45 - Centro",
         "Não ligar aos sábados", "Indicação do João (loja da Av. Paulista)",
         "Pagamento só no boleto", "Atenção: \"cliente difícil\", falar com a gerência",
         "Reclamou da entrega em 12/05"]
BAD_PHONES = ["1234-5678", "(11) 1234-56", "0", "sem telefone", "(00) 0000-0000", "999",
              "11 12345"]


# --- the files -----------------------------------------------------------------------------


def cpf_digits(base: str) -> str:
    """The two check digits of a CPF's first nine digits (Receita's modulo 11)."""
    digits = [int(c) for c in base]
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        r = sum(d * w for d, w in zip(digits, weights)) % 11
        digits.append(0 if r < 2 else 11 - r)
    return "".join(map(str, digits[9:]))


def ascii_lower(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c for c in plain if not unicodedata.combining(c)).lower()


def generate(path: Path, n: int, seed: int) -> dict:
    """Write the file (to .part, then renamed) and return what it holds."""
    rng = random.Random(seed * 1_000_003 + n)
    bad = set(rng.sample(range(n), n // 100))
    span = 4 * 10 ** 7                      # per DDD: 9 + (6..9) + 7 digits
    phones = iter(rng.sample(range(len(DDD) * span), n))
    cpfs = iter(b for b in rng.sample(range(10 ** 8, 10 ** 9), n // 2 + n // 50 + 10)
                if b % 111_111_111)
    valid = with_cpf = links = 0
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="cp1252", newline="") as fh:
        out = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        out.writerow(HEADER)
        for i in range(n):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            r = rng.random()
            if r < .35:
                name = f"{first} {rng.choice(CONNECTORS)} {rng.choice(LAST)} {last}"
            elif r < .75:
                name = f"{first} {rng.choice(LAST)} {last}"
            else:
                name = f"{first} {last}"
            if rng.random() < .04:
                name = name.upper()
            k = next(phones)
            ddd, rest = DDD[k // span], k % span
            sub = f"9{6 + rest // 10 ** 7}{rest % 10 ** 7:07d}"   # 9 digits, a mobile
            form = rng.random()
            if i in bad:
                phone = rng.choice(BAD_PHONES)
            elif form < .45:
                phone = f"({ddd}) {sub[:5]}-{sub[5:]}"
            elif form < .75:
                phone = f"{ddd} {sub}"
            else:
                phone = f"+55 {ddd} {sub[0]} {sub[1:5]}-{sub[5:]}"
            email = ""
            if rng.random() < .6:
                user = ascii_lower(f"{first}.{last}")
                email = f"{user}{i}@{rng.choice(DOMAINS)}"
                if rng.random() < .05:
                    email = email.upper()
            document = ""
            if rng.random() < .5:
                base = str(next(cpfs))
                number = base + cpf_digits(base)
                document = (f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
                            if rng.random() < .7 else number)
            t = rng.random()
            tags = ([] if t < .1 else rng.sample(TAGS, 2) if t < .15 else [rng.choice(TAGS)])
            notes = rng.choice(NOTES) if rng.random() < .3 else ""
            out.writerow([name, phone, email, document, ", ".join(tags), notes])
            if i not in bad:
                valid += 1
                with_cpf += bool(document)
                links += len(tags)
    tmp.replace(path)
    info = {"rows": n, "valid": valid, "rejected": n - valid, "with_cpf": with_cpf,
            "links": links, "bytes": path.stat().st_size, "version": FORMAT_VERSION}
    path.with_suffix(".json").write_text(json.dumps(info))
    return info


def data_file(folder: Path, n: int, seed: int) -> tuple[Path, dict, bool]:
    """(path, what it holds, generated now?) — cached between runs."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"contatos-{n}-s{seed}-v{FORMAT_VERSION}.csv"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("bytes") == path.stat().st_size:
            return path, info, False
    return path, generate(path, n, seed), True


# --- the database (parent process) ---------------------------------------------------------


def app_config(url: str, batch_size: int | None) -> dict:
    cfg = {"SQLALCHEMY_DATABASE_URI": url, "TASK_MODE": "eager", "REDIS_URL": None,
           "SECRET_KEY": "bench-import", "TESTING": True, "SERVER_NAME": None,
           "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
           # the upload limit is not what is measured (a 1M-row file is ~85 MB anyway)
           "IMPORT_MAX_BYTES": 1 << 40}
    if batch_size:
        cfg["IMPORT_BATCH_SIZE"] = batch_size
    return cfg


def ensure_database(url: str) -> None:
    from sqlalchemy import make_url

    if make_url(url).database in ("test", "postgres"):
        raise SystemExit(f"refusing to drop the tables of database {make_url(url).database!r}:"
                         " use a database of its own")
    create_missing_database(url)


def rebuild(url: str) -> dict:
    """An empty schema with one company (admin user, half of the tags); its ids."""
    from sqlalchemy import make_url

    from backoffice import create_app
    from backoffice.extensions import db
    from backoffice.models import Tag
    from backoffice.services import saas

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(u.database + suffix).unlink(missing_ok=True)
    app = create_app(app_config(url, None))
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
        db.metadata.create_all(engine)
        company, admin = saas.create_company("Bench Importação", None, "Admin Bench",
                                             "admin@bench-import.example.com", PASSWORD)
        for name in TAGS_EXISTING:
            db.session.add(Tag(company_id=company.id, name=name, owner_id=None))
        db.session.commit()
        ids = {"company_id": company.id, "user_id": admin.id}
        db.session.remove()
        engine.dispose()
    return ids


def machine(url_by_backend: dict) -> None:
    import sqlalchemy
    from sqlalchemy import create_engine

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, Python "
          f"{platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, load average {load}")
    for backend, url in url_by_backend.items():
        if backend == "sqlite":
            import sqlite3

            print(f"sqlite: {sqlite3.sqlite_version}, file {url.split(':///', 1)[1]} (default "
                  "journal mode and synchronous, as the app opens it)")
            continue
        engine = create_engine(url)
        with engine.connect() as conn:
            if backend == "postgresql":
                print("postgresql:", conn.exec_driver_sql("SELECT version()").scalar())
                settings = conn.exec_driver_sql(
                    "SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', "
                    "'work_mem', 'synchronous_commit', 'fsync', 'wal_level', 'max_wal_size', "
                    "'checkpoint_timeout', 'autovacuum') ORDER BY name").all()
                print("  settings:", ", ".join(f"{n}={s}{u or ''}" for n, s, u in settings))
                if dict((n, s) for n, s, _ in settings).get("autovacuum") == "off":
                    print("  autovacuum is off: the tables the import fills get no planner "
                          "statistics during the run (nobody runs ANALYZE)")
        engine.dispose()


# --- one measurement (child process) -------------------------------------------------------


def _status(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """Resident memory now, MB."""
    return _status("VmRSS")


def peak_mb() -> float:
    """Peak resident memory of this process, MB: VmHWM, the high-water mark of its own
    address space. ru_maxrss (getrusage RUSAGE_SELF) is not used for the figures: Linux
    carries the parent's RSS over fork/exec into it (exec_mmap folds the forked mm's
    high-water mark into signal->maxrss), so a child of a 160 MB parent reports >= 160 MB
    whatever it does itself. It is printed next to it as "maxrss" for reference."""
    return _status("VmHWM")


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def server_pids() -> list[int]:
    """The PostgreSQL backend processes of the bench's database (same machine; the
    database is the bench's own), to read their CPU time: where the import's time goes,
    Python or the database server. All of them, not only the pooled connection's: a
    change to the importer that writes through another connection stays measured."""
    from backoffice.extensions import db

    if db.engine.dialect.name != "postgresql":
        return []
    pids = list(db.session.connection().exec_driver_sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()").scalars())
    db.session.commit()
    return pids


def server_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) the backend `pid` has used; nan when unreadable."""
    if pid is None:
        return float("nan")
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def servers_cpu(pids: list[int]) -> dict[int, float]:
    return {pid: server_cpu(pid) for pid in pids}


def process_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (should the
    import ever parse in worker processes, their time counts too)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def child(spec: dict) -> dict:
    from sqlalchemy import event, func, select

    from backoffice import create_app
    from backoffice.extensions import db
    from backoffice.models import Contact, DataJob, User, contact_tag
    from backoffice.models import data_jobs as states
    from backoffice.services import data_jobs, importer

    app = create_app(app_config(spec["url"], spec.get("batch_size")))
    # as the RQ worker and `make run` do once the app is built (lib/heap.py): without it
    # every full collection during the import walks the app's startup objects too, a
    # third of the import's Python time that no served process pays
    try:
        from backoffice.lib.heap import freeze_startup_objects
    except ImportError:  # code older than lib/heap.py, measured with this bench (README)
        import gc

        gc.collect()
        gc.freeze()
    else:
        freeze_startup_objects()
    path = Path(spec["file"])
    cid = spec["company_id"]
    out: dict = {}
    with app.app_context():
        statements = [0]

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*_a):
            statements[0] += 1

        if spec["mode"] == "naive":
            out["rss_before"] = rss_mb()
            out["peak_before"] = peak_mb()
            t0 = time.perf_counter()
            counts = naive_import(cid, path)
            out["seconds"] = time.perf_counter() - t0
            out.update(counts)
        else:
            user = db.session.get(User, spec["user_id"])
            t0 = time.perf_counter()
            job = data_jobs.import_from_path(user, path)
            out["upload_s"] = time.perf_counter() - t0
            out["format"] = f"{job.encoding} '{job.delimiter}'"
            job.status = states.QUEUED
            job.update_fields = ([v for v, _ in data_jobs.updatable_fields(cid)]
                                 if spec["mode"] == "reimport" else None)
            db.session.commit()
            stored = data_jobs.job_path(job)
            job_id = job.id
            db.session.expire_all()
            out["rss_before"] = rss_mb()
            out["peak_before"] = peak_mb()
            statements[0] = 0
            is_pg = db.engine.dialect.name == "postgresql"
            cpu0, server0 = process_cpu(), servers_cpu(server_pids())
            t0 = time.perf_counter()
            if spec.get("profile"):
                import cProfile

                prof = cProfile.Profile()
                prof.runcall(importer.run, job_id, stored)
                prof.dump_stats(spec["profile"])
            else:
                importer.run(job_id, stored)
            out["seconds"] = time.perf_counter() - t0
            out["cpu_s"] = process_cpu() - cpu0
            server1 = servers_cpu(server_pids())
            out["server_cpu_s"] = (sum(c - server0.get(pid, 0.0) for pid, c in server1.items())
                                   if is_pg else float("nan"))
            out["peak_mb"] = peak_mb()
            out["maxrss_mb"] = maxrss_mb()
            out["statements"] = statements[0]
            job = db.session.get(DataJob, job_id)
            out.update(status=job.status, error=job.error, created=job.created,
                       updated=job.updated, unchanged=job.unchanged, rejected=job.rejected,
                       processed=job.processed)
            t1 = time.perf_counter()
            importer.count_records(stored, job.encoding, job.delimiter)
            out["count_s"] = time.perf_counter() - t1
            stored.unlink(missing_ok=True)
            if is_pg and spec["mode"] == "import":
                out["bare_copy_s"] = bare_copy(cid)
        out.setdefault("peak_mb", peak_mb())
        out.setdefault("maxrss_mb", maxrss_mb())
        out.setdefault("statements", statements[0])
        out["contacts"] = db.session.scalar(select(func.count(Contact.id))
                                            .where(Contact.company_id == cid))
        out["links"] = db.session.scalar(
            select(func.count()).select_from(contact_tag).join(Contact)
            .where(Contact.company_id == cid))
        out["with_cpf"] = db.session.scalar(select(func.count(Contact.id)).where(
            Contact.company_id == cid, Contact.document.is_not(None)))
    return out


def bare_copy(company_id: int) -> float:
    """Seconds to write the contacts the import created again, by one COPY from Python
    (rows already in memory, batches of 5000 rows each committed) into a new table
    shaped like `contact` with its indexes (LIKE ... INCLUDING ALL: the unique phone and
    document, the trigram name index; no foreign keys): what the same rows cost this
    machine at this moment with no import around them. The import's rows/s divided by
    this one is the share of the machine's writing speed the import reaches, a figure
    that moves less with the machine's load than either rate."""
    from backoffice.extensions import db

    conn = db.session.connection().connection.driver_connection
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM contact WHERE company_id = %s ORDER BY id", (company_id,))
        rows = cur.fetchall()
        cur.execute("DROP TABLE IF EXISTS bench_bare_contact")
        cur.execute("CREATE TABLE bench_bare_contact (LIKE contact INCLUDING ALL)")
    conn.commit()
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for start in range(0, len(rows), 5000):
            with cur.copy("COPY bench_bare_contact FROM STDIN") as copy:
                for row in rows[start:start + 5000]:
                    copy.write_row(row)
            conn.commit()
    seconds = time.perf_counter() - t0
    with conn.cursor() as cur:
        cur.execute("DROP TABLE bench_bare_contact")
    conn.commit()
    return seconds


def naive_import(company_id: int, path: Path) -> dict:
    """One ORM query per row (and per tag), a commit every NAIVE_COMMIT rows."""
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models import Contact, Tag
    from backoffice.services import RuleError
    from backoffice.services.contacts import normalise_email
    from backoffice.lib.documents import normalise_document
    from backoffice.lib.phones import normalise_phone

    created = unchanged = rejected = n = 0
    with open(path, encoding="cp1252", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        for cells in reader:
            n += 1
            name, phone, email, document, tags, notes = (c.strip() for c in cells)
            try:
                phone = normalise_phone(phone)
                if not name or not phone:
                    raise RuleError("Nome ou telefone em branco.")
                email = normalise_email(email)
                document, person_type = normalise_document(document)
            except RuleError:
                rejected += 1
                continue
            contact = db.session.scalar(select(Contact).where(
                Contact.company_id == company_id, Contact.phone == phone))
            if contact is not None:
                unchanged += 1
            else:
                found = []
                for tag_name in filter(None, (t.strip() for t in tags.split(","))):
                    tag = db.session.scalar(select(Tag).where(
                        Tag.company_id == company_id, Tag.owner_id.is_(None), Tag.name == tag_name))
                    if tag is None:
                        tag = Tag(company_id=company_id, name=tag_name, owner_id=None)
                        db.session.add(tag)
                    found.append(tag)
                db.session.add(Contact(company_id=company_id, name=" ".join(name.split()),
                                       phone=phone, email=email, document=document,
                                       person_type=person_type, notes=notes or None, tags=found))
                created += 1
            if n % NAIVE_COMMIT == 0:
                db.session.commit()
    db.session.commit()
    return {"created": created, "unchanged": unchanged, "updated": 0, "rejected": rejected,
            "processed": n, "status": "done", "error": None}


# --- the run (parent process) --------------------------------------------------------------


def measure(mode: str, backend: str, url: str, path: Path, n: int, ids: dict, args,
            profile: str | None = None) -> dict:
    spec = {"mode": mode, "url": url, "file": str(path), "batch_size": args.batch_size,
            "profile": profile, **ids}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    if proc.returncode or result is None:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        return {"mode": mode, "backend": backend, "rows": n, "failed": True,
                "error": f"subprocess exit {proc.returncode}"}
    result.update(mode=mode, backend=backend, rows=n, load=load, wall=wall,
                  rate=n / result["seconds"])
    return result


def check(result: dict, info: dict) -> str:
    """What the job and the database say, against what the generator wrote."""
    if result.get("failed"):
        return "FAILED: " + result["error"]
    problems = []
    if result["status"] != "done":
        problems.append(f"status {result['status']} {result.get('error') or ''}".strip())
    want = {"rejected": info["rejected"], "contacts": info["valid"], "links": info["links"],
            "with_cpf": info["with_cpf"]}
    if result["mode"] == "reimport":
        want.update(created=0, updated=0, unchanged=info["valid"])
    else:
        want.update(created=info["valid"])
    for key, value in want.items():
        if result.get(key) != value:
            problems.append(f"{key} {result.get(key)} != {value}")
    return "OK" if not problems else "MISMATCH: " + ", ".join(problems)


LABEL = {"import": "import", "reimport": "re-import", "naive": "naive"}


def print_row(r: dict, info: dict) -> None:
    if r.get("failed"):
        print(f"{r['backend']:<11}{r['rows']:>10,}  {LABEL[r['mode']]:<10} FAILED ({r['error']})")
        return
    per_k = r["statements"] / r["rows"] * 1000
    print(f"{r['backend']:<11}{r['rows']:>10,}  {LABEL[r['mode']]:<10}{r['seconds']:>9.1f}"
          f"{r['rate']:>10,.0f}{r['rss_before']:>9.0f}{r['peak_mb']:>9.0f}"
          f"{r['peak_mb'] - r['rss_before']:>8.0f}{per_k:>10,.0f}{r['created']:>10,}"
          f"{r['unchanged']:>10,}{r['updated']:>9,}{r['rejected']:>9,}  {check(r, info)}")


def print_profile(path: str, limit: int) -> None:
    print(f"\ncProfile of {Path(path).name} (importer.run), by own time:")
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(limit)
    print("by cumulative time:")
    stats.sort_stats("cumulative").print_stats(limit)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        result = child(json.loads(sys.argv[2]))
        print("RESULT " + json.dumps(result), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,1000000",
                        help="file sizes, comma separated (default 100000,1000000)")
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma separated: sqlite, postgresql (default both)")
    parser.add_argument("--postgresql-url", default=os.environ.get("BENCH_IMPORT_PG_URL",
                                                                   DEFAULT_PG_URL),
                        help="a database of its own: its public schema is dropped and rebuilt")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR,
                        help="where the generated files are cached (and the SQLite database)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="IMPORT_BATCH_SIZE passed to the app (default: the app's, 5000 on "
                             "PostgreSQL and 1000 on SQLite)")
    parser.add_argument("--naive-1m", action="store_true",
                        help="also run the naive import on files over 100k rows (slow)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive import")
    parser.add_argument("--no-reimport", action="store_true", help="skip the re-import")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run the first import of each size under cProfile, write DIR/"
                             "<backend>-<rows>.prof and print the top functions (figures of "
                             "profiled runs are slower: do not compare them to the targets)")
    parser.add_argument("--profile-lines", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()

    sizes = [int(x.replace("_", "")) for x in args.rows.split(",") if x.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgresql"):
            parser.error(f"unknown backend {b!r}")
    urls = {}
    if "sqlite" in backends:
        urls["sqlite"] = f"sqlite:///{(args.data_dir / 'bench_import.db').resolve()}"
    if "postgresql" in backends:
        urls["postgresql"] = args.postgresql_url.replace("postgresql://", "postgresql+psycopg://")
        ensure_database(urls["postgresql"])
    args.data_dir.mkdir(parents=True, exist_ok=True)
    instance = tempfile.mkdtemp(prefix="bench-import-")
    os.environ["ATENDE_INSTANCE"] = instance          # inherited by the subprocesses
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    machine(urls)
    files = {}
    for n in sizes:
        t0 = time.perf_counter()
        path, info, made = data_file(args.data_dir, n, args.seed)
        files[n] = (path, info)
        print(f"file {path} ({info['bytes'] / 2 ** 20:.1f} MB, {n:,} rows: {info['valid']:,} "
              f"valid, {info['rejected']:,} with a bad phone, {info['with_cpf']:,} with a CPF, "
              f"{info['links']:,} tags): "
              + (f"generated in {time.perf_counter() - t0:.1f} s" if made else "cached"))
    print(f"batch size: {args.batch_size or 'app default (5000 PostgreSQL, 1000 SQLite)'}; each "
          "measurement in a fresh subprocess on a freshly rebuilt schema")

    results = []
    t_start = time.perf_counter()
    for backend in backends:
        url = urls[backend]
        for n in sizes:
            path, info = files[n]
            profile = str(args.profile / f"{backend}-{n}.prof") if args.profile else None
            ids = rebuild(url)
            r = measure("import", backend, url, path, n, ids, args, profile)
            results.append(r)
            print_row_live(r, info)
            if not args.no_reimport and not r.get("failed"):
                r = measure("reimport", backend, url, path, n, ids, args)
                results.append(r)
                print_row_live(r, info)
            if not args.no_naive and (n <= 100_000 or args.naive_1m):
                ids = rebuild(url)
                r = measure("naive", backend, url, path, n, ids, args)
                results.append(r)
                print_row_live(r, info)
    shutil.rmtree(instance, ignore_errors=True)
    print(f"measured in {time.perf_counter() - t_start:.0f} s; load average now "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(results, files, bool(args.profile))
    if args.profile:
        for backend in backends:
            for n in sizes:
                prof = args.profile / f"{backend}-{n}.prof"
                if prof.is_file():
                    print_profile(str(prof), args.profile_lines)


def print_row_live(r: dict, info: dict) -> None:
    if r.get("failed"):
        print(f"  {r['backend']} {r['rows']:,} {LABEL[r['mode']]}: FAILED", flush=True)
        return
    cpu = (f"CPU Python {r['cpu_s']:.1f} s, server {r['server_cpu_s']:.1f} s, "
           if "cpu_s" in r else "")
    print(f"  {r['backend']} {r['rows']:,} {LABEL[r['mode']]}: {r['seconds']:.1f} s, "
          f"{r['rate']:,.0f} rows/s, {cpu}peak {r['peak_mb']:.0f} MB "
          f"(load {r['load']:.2f}) {check(r, info)}", flush=True)


def report(results: list[dict], files: dict, profiled: bool) -> None:
    print()
    print("seconds = wall time of importer.run (counting pass included) or of the naive loop; "
          "rows/s = file rows / seconds;")
    print("RSS MB: before = resident right before the timed call, peak = the subprocess's "
          "peak resident memory (VmHWM) at the end, growth = peak - before; SQL/1k = SQL "
          "statements per 1000 rows")
    head = (f"{'backend':<11}{'rows':>10}  {'run':<10}{'seconds':>9}{'rows/s':>10}"
            f"{'before':>9}{'peak':>9}{'growth':>8}{'SQL/1k':>10}{'created':>10}"
            f"{'unchanged':>10}{'updated':>9}{'rejected':>9}  check")
    print(head)
    print("-" * len(head))
    for r in results:
        print_row(r, files[r["rows"]][1])
    print()
    for r in results:
        if r["mode"] != "naive" and not r.get("failed"):
            print(f"{r['backend']} {r['rows']:,} {LABEL[r['mode']]}: upload (store + detect "
                  f"{r['format']}) {r['upload_s']:.1f} s, not timed; counting pass alone "
                  f"{r['count_s']:.1f} s; {r['statements']:,} SQL statements; ru_maxrss "
                  f"{r['maxrss_mb']:.0f} MB (includes the parent's, see peak_mb); load "
                  f"average {r['load']:.2f} at the start")
            if r.get("bare_copy_s"):
                bare = r["created"] / r["bare_copy_s"]
                print(f"{r['backend']} {r['rows']:,} {LABEL[r['mode']]}: the {r['created']:,} "
                      f"created contacts by a bare COPY into a table with contact's indexes "
                      f"(no foreign keys, no tag links), right after: {r['bare_copy_s']:.1f} s, "
                      f"{bare:,.0f} rows/s; the import's {r['rate']:,.0f} rows/s is "
                      f"{r['rate'] / bare:.0%} of it")
    print()
    if profiled:
        print("(the first import of each size ran under cProfile: its rows/s is not "
              "comparable with the targets)")
    by = {(r["backend"], r["rows"], r["mode"]): r for r in results if not r.get("failed")}
    verdicts = []

    def verdict(label: str, good: bool | None, figure: str) -> None:
        status = "n/a" if good is None else "OK" if good else "NOT MET"
        verdicts.append(status)
        print(f"target: {label}: {figure} -> {status}")

    if 100_000 in files and any(r["backend"] == "postgresql" for r in results):
        r = by.get(("postgresql", 100_000, "import"))
        verdict(f"PostgreSQL 100k import >= {TARGET_ROWS_S:,} rows/s",
                None if r is None else r["rate"] >= TARGET_ROWS_S,
                "failed" if r is None else f"{r['rate']:,.0f} rows/s")
    for backend in sorted({r["backend"] for r in results}):
        big = [n for n in files if n >= 1_000_000]
        for n in big:
            r = by.get((backend, n, "import"))
            if r is None:
                verdict(f"peak memory {n:,} rows < {TARGET_MB} MB ({backend})", None, "failed")
                continue
            verdict(f"peak memory {n:,} rows < {TARGET_MB} MB ({backend})",
                    r["peak_mb"] < TARGET_MB,
                    f"peak {r['peak_mb']:.0f} MB (before the import {r['rss_before']:.0f} MB, "
                    f"growth {r['peak_mb'] - r['rss_before']:.0f} MB)")
        for n in sorted(files):
            real, naive = by.get((backend, n, "import")), by.get((backend, n, "naive"))
            if naive is None:
                continue
            ratio = real["rate"] / naive["rate"] if real else None
            verdict(f"import >= {TARGET_RATIO:.0f}x naive ({backend}, {n:,} rows)",
                    None if ratio is None else ratio >= TARGET_RATIO,
                    "failed" if ratio is None else
                    f"{real['rate']:,.0f} / {naive['rate']:,.0f} rows/s = {ratio:.1f}x")
        for n in sorted(files):
            real, again = by.get((backend, n, "import")), by.get((backend, n, "reimport"))
            if real and again:
                print(f"re-import ({backend}, {n:,} rows): {again['rate']:,.0f} rows/s, "
                      f"{again['rate'] / real['rate']:.2f}x the first import")
    met = verdicts.count("OK")
    print(f"{met} of {len(verdicts)} targets met")


if __name__ == "__main__":
    main()
