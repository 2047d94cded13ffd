"""The request side shared by every blueprint: the JSON API kit (api), error pages and
handlers (errors), the request class with per-route upload limits (uploads) and private
file downloads (downloads). Plumbing with no HTTP in it stays in backoffice.lib."""
