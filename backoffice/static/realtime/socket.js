/* The pages' Socket.IO connection (RTM-1, SCL-2), with the one retry Socket.IO leaves out.
 *
 * Socket.IO connects again by itself after a network loss, but never after the server
 * refused the connect. The server refuses with {retry: true} when its database was away
 * for a moment (a restart or a failover, backoffice/realtime/failures.py): such a connect
 * is tried again here after 1 to 4 s, spread so that a whole office does not come back in
 * the same second, and, while the database stays away, after twice as long each time (up
 * to 30 s, plus the spread), so the pages do not hammer a server that is recovering. Any
 * other refusal (a session ended, a panel key revoked) stays final.
 *
 * atendeSocket(namespace, options) is io(namespace, options) with that retry;
 * atendeSocket.retryAsked(err) tells a page's own connect_error handler which kind it got.
 */
(function () {
  "use strict";

  function retryAsked(err) {
    return !!(err && err.data && err.data.retry);
  }

  window.atendeSocket = function (namespace, options) {
    var socket = window.io(namespace, options);
    var refused = 0;  // refusals in a row
    socket.on("connect", function () { refused = 0; });
    socket.on("connect_error", function (err) {
      if (socket.active || !retryAsked(err)) { return; }
      var wait = Math.min(30000, 1000 * Math.pow(2, refused));
      refused += 1;
      window.setTimeout(function () {
        if (!socket.connected && !socket.active) { socket.connect(); }
      }, wait + Math.floor(Math.random() * 3000));
    });
    return socket;
  };
  window.atendeSocket.retryAsked = retryAsked;
}());
