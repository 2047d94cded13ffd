"""The pushes of one commit reach the other processes in one Redis message (SCL-3).

With a message queue (SOCKETIO_MESSAGE_QUEUE, several web processes and the workers),
python-socketio's RedisManager delivers each emit to this process's own sockets at once
and PUBLISHes it for the others: one round trip to Redis per emit, and every process's
listener thread reads and parses each one. An inbound message makes three (message.created
and ticket.updated to the agents, "message" to the visitor's tabs), all queued by the
transaction's listeners and sent by after_commit.commit() one after the other.

`OneTripRedisManager` is RedisManager with one addition: inside `one_trip()` (which
after_commit.commit() enters around its callbacks, see `install`) what this thread would
publish is held and, when the block ends, published as one message: the held messages
in their order, or the one message as it was when only one was held. The listeners of
the other processes open it and handle the messages one by one, in that order, exactly
as python-socketio's own loop handles each (PubSubManager._thread: the sender's own
messages are still recognised by their host id and skipped). What changes:

- this process's sockets hear each event as before, at the emit (PubSubManager.emit
  handles it here before publishing); the other processes hear the commit's events
  together when its callbacks are done, instead of one by one during them;
- a Redis outage behaves as before, once per commit instead of once per emit: the
  publish is RedisManager's (two attempts, an error logged, nothing raised), the local
  sockets have heard everything already, the other processes hear nothing;
- a process of the previous version ignores a batch (an unknown method to its loop):
  during a rolling deploy, its sockets miss the pushes of the new processes' commits of
  more than one event until it is replaced, as they would during a Redis outage.

Nothing else is held: an emit outside after_commit.commit() (a socket handler, the
session-ending hooks that run inside SQLAlchemy's commit) is published at once, as is
everything in the listener thread (callbacks). A nested commit (an eager job run by a
callback) publishes with the outer one, in order.

What a Redis outage loses is made good afterwards (SCL-2): the database is the truth, so
a page that may have missed pushes fetches again, as after a reconnection of its socket.
Two ways a process learns that its sockets may have missed something:

- its listener subscribes again after losing Redis (python-socketio retries by itself):
  from Redis's confirmation of that SUBSCRIBE on, it hears every publish, so it then
  sends RESYNC_EVENT to every socket it serves, in every namespace;
- another process could not publish (its outage may not have broken this listener):
  that process, at its next publish that goes through, first publishes a RESYNC
  request, and every other process sends RESYNC_EVENT to its sockets.

The pages (inbox, alerts, dashboard, TV panel, website chat) answer RESYNC_EVENT by
fetching what they show, each after a random delay (up to 1.5 s; 5 s for the website
chat, open in thousands of visitors' browsers): they all hear it at the same moment.

Both are told soon after Redis is back, however long it was away:

- the listener tries Redis again after 1, 2 and 4 s, then every LISTEN_RETRY_MAX_SECONDS
  (python-socketio's own loop doubles the wait up to a minute, so after a long outage
  the pages of a process learnt up to a minute late that they had missed pushes);
- a request owed after a failed publish is sent by a thread of its own, which tries
  again on the same schedule until it goes through, rather than waiting for this
  process's next publish (a worker may have nothing to publish for hours).

A served process (`app.py`, a gunicorn worker, an RQ worker: `send_owed_at_exit`) that
stops while it owes a request, its thread waiting between two attempts, makes one last
attempt as it exits, for EXIT_ATTEMPT_SECONDS at most, so a stop never hangs on an
unreachable Redis. If that fails too, it logs that it leaves the request unsent: the
pages it failed to reach are then told only by the other processes' own outages, or by
their next reconnection.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from contextlib import contextmanager, nullcontext
from typing import Iterator

import socketio as python_socketio

from ..extensions import socketio
from ..lib import after_commit

BATCH = "atende.batch"  # the method of a held batch (python-socketio's are lower-case words)
RESYNC = "atende.resync"  # the method of a request to every other process: fetch again
RESYNC_EVENT = "resync"  # what the pages hear: fetch again, pushes may have been missed
LISTEN_RETRY_MAX_SECONDS = 5  # the longest wait between two attempts to reach Redis
STILL_DOWN_LOG_SECONDS = 60  # during an outage, one error line a minute, not one per try
EXIT_ATTEMPT_SECONDS = 2  # a stopping process's last try to send an owed request

log = logging.getLogger(__name__)


class OneTripRedisManager(python_socketio.RedisManager):
    """RedisManager whose publishes inside `one_trip()` leave as one message."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._held = threading.local()  # the request threads publish at the same time
        self._owed = False  # a publish failed: the others are asked to fetch again
        self._owed_lock = threading.Lock()  # one attempt at a time to send what is owed
        self._starting = threading.Lock()  # one thread to send it
        self._owed_sender: threading.Thread | None = None

    @contextmanager
    def one_trip(self) -> Iterator[None]:
        if getattr(self._held, "messages", None) is not None:  # nested: the outer one sends
            yield
            return
        self._held.messages = held = []
        try:
            yield
        finally:
            self._held.messages = None
            if len(held) == 1:
                self._send(held[0])
            elif held:
                batch = {"method": BATCH, "messages": held}
                # RedisManager's publish logs and gives up (None) on any error; when a
                # payload is no JSON (a bug), only its own event is lost, as before
                if self._send(batch) is None and not _is_json(self.json, batch):
                    for message in held:
                        self._send(message)

    def _publish(self, data):
        held = getattr(self._held, "messages", None)
        if held is None:
            return self._send(data)
        held.append(data)
        return None

    def _send(self, data):
        """RedisManager's publish (None when it gave up); after one that gave up, the
        first that goes through is preceded by a RESYNC request, unless the thread
        `_send_owed` got it through first."""
        if self._owed:
            self._pay_owed(wait=False)  # never behind the thread's own attempt
        sent = super()._publish(data)
        if sent is None:
            self._owe()
        return sent

    def _pay_owed(self, wait: bool = True) -> bool:
        """Publish the owed RESYNC request; True once nothing is owed any more. With
        `wait` false, nothing is tried while another thread is trying."""
        if not self._owed_lock.acquire(blocking=wait):
            return False
        try:
            if not self._owed:
                return True
            if super()._publish({"method": RESYNC, "host_id": self.host_id}) is None:
                return False
            self._owed = False
            _OWING.discard(self)
            return True
        finally:
            self._owed_lock.release()

    def _owe(self) -> None:
        self._owed = True
        _OWING.add(self)
        with self._starting:
            if self._owed_sender is None:
                self._owed_sender = threading.Thread(
                    target=self._send_owed, name="socketio-owed-resync", daemon=True)
                self._owed_sender.start()

    def _send_owed(self) -> None:
        """Until the owed request is published (by this thread or by a publish of the
        process meanwhile), try again on the listener's schedule; a publish that fails
        meanwhile keeps it going."""
        delays = retry_delays()
        while True:
            time.sleep(next(delays))
            if self._pay_owed():
                with self._starting:
                    if not self._owed:
                        self._owed_sender = None
                        return

    def _redis_connect(self):
        super()._redis_connect()
        # Redis's confirmation of each SUBSCRIBE reaches the listener (python-socketio's
        # pubsub drops them): the moment it hears every publish again
        self.pubsub = self.redis.pubsub()

    def _redis_listen_with_retries(self):
        """RedisManager's loop (connect, subscribe, listen; on any error wait and start
        over), written here for two things it does not do: waits of at most
        LISTEN_RETRY_MAX_SECONDS between attempts (python-socketio's grow to a minute),
        and what a subscription after the first one means: the listener lost Redis for a
        while, this process's sockets fetch again."""
        subscribed_before = connected = False
        delays, down_since, logged_at = retry_delays(), None, 0.0
        while True:
            try:
                if not connected:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    connected = True
                for message in self.pubsub.listen():
                    if message.get("type") == "subscribe":
                        if subscribed_before:
                            self.fetch_again("the link to Redis is back")
                        subscribed_before = True
                        delays, down_since = retry_delays(), None
                        continue
                    yield message
            except Exception as exc:  # as RedisManager's loop: whatever broke, start over
                connected = False
                now = time.monotonic()
                if down_since is None:
                    down_since = logged_at = now
                    log.error("Socket.IO: cannot receive from Redis (%s); trying again every "
                              "%d s at most", exc, LISTEN_RETRY_MAX_SECONDS)
                elif now - logged_at >= STILL_DOWN_LOG_SECONDS:
                    logged_at = now
                    log.error("Socket.IO: still cannot receive from Redis after %.0f s (%s)",
                              now - down_since, exc)
                time.sleep(next(delays))

    def fetch_again(self, why: str) -> None:
        """RESYNC_EVENT to every socket of this process, in every namespace."""
        namespaces = list(self.rooms)
        for namespace in namespaces:
            self.emit(RESYNC_EVENT, {}, namespace, ignore_queue=True)
        log.warning("Socket.IO: %s; the pages of this process fetch what they show again "
                    "(%d namespaces)", why, len(namespaces))

    def _listen(self):
        """RedisManager's messages, a batch opened into the messages it holds (parsed
        here once; PubSubManager._thread takes them as dicts and does the rest)."""
        for raw in super()._listen():
            try:
                data = self.json.loads(raw)
            except Exception:  # as PubSubManager._thread: what is not JSON is skipped
                continue
            if not isinstance(data, dict):
                continue
            if data.get("method") == RESYNC:
                if data.get("host_id") != self.host_id:
                    self.fetch_again("another process could not publish to Redis")
                continue
            if data.get("method") != BATCH:
                yield data
                continue
            for message in data.get("messages") or ():
                if isinstance(message, dict):
                    yield message


_OWING: weakref.WeakSet[OneTripRedisManager] = weakref.WeakSet()  # managers that owe a request
_exit_hook = threading.Lock()  # held once send_owed_at_exit has registered the hook


def send_owed_at_exit() -> None:
    """Served processes call this once they are built (never create_app: tests build
    many apps). The threads sending owed requests are daemons that die with the process,
    so at the interpreter's exit an owed request gets one last, bounded attempt."""
    if _exit_hook.acquire(blocking=False):
        atexit.register(_pay_owed_at_exit)


def _pay_owed_at_exit() -> None:
    owing = list(_OWING)
    attempts = [threading.Thread(target=manager._pay_owed, name="socketio-owed-resync-exit",
                                 daemon=True) for manager in owing]
    for attempt in attempts:
        attempt.start()
    deadline = time.monotonic() + EXIT_ATTEMPT_SECONDS
    for attempt in attempts:
        attempt.join(max(0.0, deadline - time.monotonic()))
    if any(manager._owed for manager in owing):
        log.error("Socket.IO: stopping with a request to the other processes to fetch "
                  "again unsent (Redis unreachable); their pages are told at their next "
                  "reconnection")


def retry_delays() -> Iterator[float]:
    """Seconds to wait before each new attempt to reach Redis: 1, 2, 4, then
    LISTEN_RETRY_MAX_SECONDS for ever."""
    delay = min(1, LISTEN_RETRY_MAX_SECONDS)
    while True:
        yield delay
        delay = min(delay * 2, LISTEN_RETRY_MAX_SECONDS)


def _is_json(json, data) -> bool:
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        return False
    return True


def install(server) -> None:
    """Give `server` (socketio.server, just made by init_app) a OneTripRedisManager in
    place of the RedisManager that Flask-SocketIO made for a redis:// message queue, with
    the same URL, channel and options; before anything used it (the manager starts its
    listener and connects on first use). Any other manager is left as it is."""
    after_commit.run_callbacks_within(one_trip)
    manager = getattr(server, "manager", None)
    if type(manager) is not python_socketio.RedisManager or server.manager_initialized:
        return
    replacement = OneTripRedisManager(
        manager.redis_url, channel=manager.channel, write_only=manager.write_only,
        logger=manager.logger, redis_options=manager.redis_options)
    replacement.host_id = manager.host_id
    replacement.set_server(server)
    server.manager = replacement


def one_trip():
    """The current server's one_trip() when its manager holds publishes, else nothing."""
    manager = getattr(getattr(socketio, "server", None), "manager", None)
    if isinstance(manager, OneTripRedisManager):
        return manager.one_trip()
    return nullcontext()
