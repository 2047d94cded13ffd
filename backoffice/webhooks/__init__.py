"""Webhook deliveries (WHK-1): the events of backoffice.events sent to the companies'
webhooks, signed, in order per ticket, retried and logged.

  signing.py   the X-Atende-Signature header and the integrators' verification snippets
  payloads.py  the JSON body of one event (a public contract)
  outbox.py    the event listener: one WebhookDelivery row per subscribed webhook, written
               in the emitting transaction, its job enqueued after the commit
  delivery.py  the job's work (claim, order, send, retry, give up, switch off after 24 h),
               "Reenviar", "Testar" (ping) and the periodic sweep

The configuration of a webhook (URL, events, secret) is services/webhooks.py; the rows are
models/webhooks.py.
"""
