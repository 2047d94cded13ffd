"""Entry point: `python app.py` serves the app with Socket.IO and the embedded queue.

`make run` calls this after migrating and seeding. Production runs several single-process
instances of this app under gunicorn behind a proxy (deploy/, README "Produção"), with
`rq worker` processes beside them; `make cluster` starts that shape on one machine.
"""
import os

from backoffice import create_app

# Built before the imports below, so that the app's modules load inside create_app, with
# the cyclic collector paused (backoffice/lib/heap.py): a sixth of the start of every web
# process and `flask` command.
app = create_app()

from backoffice.extensions import socketio  # noqa: E402
from backoffice.jobs.periodic import start_thread  # noqa: E402
from backoffice.config import env_number  # noqa: E402
from backoffice.lib.heap import freeze_startup_objects  # noqa: E402
from backoffice.lib.startup import StartupError, check_web  # noqa: E402
from backoffice.realtime.pubsub import send_owed_at_exit  # noqa: E402
from backoffice.cli.seed import demo_logins  # noqa: E402
from backoffice.seed import demo_hints  # noqa: E402

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = env_number("PORT", 5000, minimum=1)
    with app.app_context():
        logins = demo_logins(f"http://{host}:{port}")
        hints = demo_hints(f"http://{host}:{port}")
    print("\n" + "\n".join(logins) + "\n", flush=True)
    if hints:
        print("\n".join(hints) + "\n", flush=True)
    try:  # SCL-1: with REDIS_URL set, Redis must answer before agents connect
        check_web(app.config)
    except StartupError as exc:
        raise SystemExit(f"atende: {exc}") from None
    start_thread(app)  # CHN-3, IMP-4: re-enqueue stalled messages, imports and exports
    freeze_startup_objects()  # full collections stop walking the app's own objects
    send_owed_at_exit()  # SCL-2: a resync request owed at the stop gets a last try
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False)
