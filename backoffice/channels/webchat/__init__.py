"""The website chat (CHN-5), one package: the provider contract (adapter), the visitor's
rules (visitor), the loader script, frame and JSON API (views), the visitors' Socket.IO
namespace "/webchat" (sockets) and their blueprint (blueprint).

Nothing is imported here: `backoffice.channels` loads the adapter alone, without the
views and socket handlers (backoffice.webchat wires those into the app).
"""
