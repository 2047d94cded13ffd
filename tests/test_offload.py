"""SCL-3: under gevent's web worker, a password check does not stop the process's other
connections (backoffice/lib/offload.py), and every password hash of the app goes that way."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
from pathlib import Path

from backoffice.lib.offload import gevent_patched, off_loop

ROOT = Path(__file__).resolve().parent.parent

# A gevent web process in miniature: the patch first, then a greenlet standing for the
# other connections, which ticks every 2 ms whenever the loop lets it run.
GEVENT_PROCESS = """
from gevent import monkey
monkey.patch_all()
import json, gevent
from werkzeug.security import check_password_hash, generate_password_hash
from backoffice.lib.offload import gevent_patched, off_loop
from backoffice.models import User

stored = generate_password_hash("segredo", method="scrypt")
ticks = []
def other_connections():
    while True:
        ticks.append(1)
        gevent.sleep(0.002)
gevent.spawn(other_connections)
gevent.sleep(0.01)

def during(check):
    before = len(ticks)
    return [check(), len(ticks) - before]

user = User()
user.password_hash = stored
print(json.dumps({
    "patched": gevent_patched(),
    "in_place": during(lambda: check_password_hash(stored, "segredo")),
    "off_loop": during(lambda: off_loop(check_password_hash, stored, "segredo")),
    "user": during(lambda: user.check_password("segredo")),
    "wrong": during(lambda: user.check_password("outra")),
}))
"""


def test_SCL_3_a_password_check_leaves_the_gevent_web_process_serving_its_other_connections():
    done = subprocess.run([sys.executable, "-c", GEVENT_PROCESS], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["patched"] is True
    # run in place, scrypt holds the one thread: the other connections wait it out
    assert seen["in_place"] == [True, 0]
    # in gevent's thread pool the loop goes on (scrypt takes about 75 ms; ticks every 2 ms)
    assert seen["off_loop"][0] is True and seen["off_loop"][1] >= 2
    # the panel's login goes that way, and still tells a wrong password apart
    assert seen["user"][0] is True and seen["user"][1] >= 2
    assert seen["wrong"][0] is False and seen["wrong"][1] >= 2


def test_SCL_3_without_gevent_the_call_is_made_in_place():
    """The embedded server, the workers and the tests run threads: nothing is handed over."""
    assert not gevent_patched()
    assert off_loop(threading.get_ident) == threading.get_ident()
    assert off_loop(lambda a, b=0: a + b, 2, b=3) == 5


def test_SCL_3_every_password_hash_of_the_app_goes_through_off_loop():
    """werkzeug's hash functions are only ever passed to off_loop, never called: one
    called directly would stall a gevent web process for its 75 ms."""
    direct = []
    for path in sorted((ROOT / "backoffice").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("check_password_hash", "generate_password_hash")):
                direct.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert direct == []
