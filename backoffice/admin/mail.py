"""E-mails enviados (SEC-6): in the embedded mode mails are files in instance/mail/; the
super user reads them here (the reset links of a `make run` without a mail server)."""
from __future__ import annotations

from flask import abort, request
from flask_admin import expose

from ..services import mail
from .base import SecureView, local_datetime


class MailOutboxView(SecureView):
    superuser_only = True

    @expose("/")
    def index(self):
        name = request.args.get("name")
        if name is not None:
            message = mail.stored_one(name)
            if message is None:
                abort(404)
            return self.render("admin/mail_outbox.html", message=message, mails=None,
                               smtp=not mail.keeps_files(), when=local_datetime)
        return self.render("admin/mail_outbox.html", message=None, mails=mail.stored(),
                           smtp=not mail.keeps_files(), when=local_datetime)
