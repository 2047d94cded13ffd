"""The representative's pages (POR-1): the home menu, Novo contato, the lists (todos /
em aberto / finalizados), a protocol with its conversation and reply box, the download of
a protocol's attachment, and the small JSON the protocol page polls for new answers.

Thin: the rules are services.portal.protocols'. Every page is behind
guard.account_required; a protocol of another organisation or company is the same 404 as
a missing one. Customer and agent text goes out as escaped text (the templates, and
`textContent` in the page's script), never as HTML.
"""
from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..lib import after_commit
from ..lib.ids import as_id
from ..models import Company
from ..models.tickets import AUTHOR_AGENT, AUTHOR_CONTACT, CLOSED
from ..services import RuleError, attachments
from ..services.hours import local_time
from ..services.portal import protocols as rules
from ..web.downloads import private_file
from .blueprint import bp
from .guard import account_required, current_account

POLL_SECONDS = 5


def _when(moment) -> str:
    if moment is None:
        return ""
    return local_time(moment, g.portal_company.timezone).strftime("%d/%m/%Y %H:%M")


def _author(message, company: Company) -> str:
    if message.author_kind == AUTHOR_CONTACT:
        return _("Você")
    if message.author_kind == AUTHOR_AGENT and message.author is not None \
            and company.show_agent_name:
        return message.author.name
    return g.portal_settings.title or company.name


def _message_view(message) -> dict:
    """What the page (and the poll) shows of one message; text stays text."""
    company = g.portal_company
    found = {"id": message.id, "mine": message.author_kind == AUTHOR_CONTACT,
             "author": _author(message, company), "text": message.text or "",
             "when": _when(message.created_at), "attachment": None}
    if message.file_key:
        found["attachment"] = {
            "name": message.file_name or _("arquivo"),
            "url": url_for("portal.attachment", ticket_id=message.ticket_id,
                           message_id=message.id)}
    return found


def _protocol_or_404(account, ticket_id):
    try:
        return rules.find_protocol(account, ticket_id)
    except rules.ProtocolNotFound:
        abort(404)


@bp.route("/", endpoint="home")
@account_required
def home():
    account = current_account()
    return render_template("portal/home.html", counts=rules.counts(account),
                           filters=rules.FILTERS, welcome=g.portal_settings.welcome_text)


def _form_context(account, form: rules.NewProtocol) -> dict:
    company_id = account.company_id
    subs = rules.subclassifications(company_id)
    return {"form": form, "classifications": rules.classifications(company_id),
            "subclassifications": subs,
            "ask_method": rules.asks_contact_method(company_id),
            "methods": rules.contact_methods(company_id),
            "max_files": rules.MAX_FILES,
            "max_mb": attachments.max_bytes() // (1024 * 1024)}


@bp.route("/novo", methods=["GET", "POST"], endpoint="new")
@account_required
def new():
    account = current_account()
    if request.method == "GET":
        return render_template("portal/new.html",
                               **_form_context(account, rules.NewProtocol.prefilled(account)))
    form = rules.NewProtocol.from_form(request.form, request.files.getlist("files"))
    try:
        ticket = rules.open_protocol(account, form)
        protocol, ticket_id = ticket.protocol, ticket.id
        after_commit.commit()
    except RuleError as exc:
        db.session.rollback()  # nothing half-done stays (after_commit drops its work)
        flash(str(exc), "error")
        form.files = []  # a browser cannot be handed a file back: chosen again
        return render_template("portal/new.html", **_form_context(account, form)), 400
    flash(_("Contato registrado. Protocolo %(protocol)s.", protocol=protocol), "success")
    return redirect(url_for("portal.protocol", ticket_id=ticket_id))


@bp.route("/protocolos", endpoint="protocols")
@account_required
def protocols():
    account = current_account()
    which = request.args.get("filtro")
    which = which if which in rules.FILTERS else rules.ALL
    page = rules.protocols(account, which, rules.read_page(request.args.get("pagina")))
    return render_template("portal/list.html", page=page, which=which, filters=rules.FILTERS,
                           counts=rules.counts(account), when=_when)


@bp.route("/protocolos/<int:ticket_id>", endpoint="protocol")
@account_required
def protocol(ticket_id):
    account = current_account()
    ticket = _protocol_or_404(account, ticket_id)
    shown = [_message_view(m) for m in rules.conversation(ticket)]
    return render_template("portal/protocol.html", ticket=ticket, messages=shown,
                           form=rules.request_of(ticket), status=rules.status_label(ticket),
                           closed=ticket.status == CLOSED,
                           may_reopen=bool(g.portal_settings.allow_reopen),
                           created=_when(ticket.created_at), poll_seconds=POLL_SECONDS,
                           max_files=rules.MAX_FILES)


@bp.route("/protocolos/<int:ticket_id>/mensagens", endpoint="protocol_messages")
@account_required
def protocol_messages(ticket_id):
    """The messages after `depois` (an id) and the status: the protocol page asks every
    few seconds, so an agent's answer appears without a reload."""
    account = current_account()
    ticket = _protocol_or_404(account, ticket_id)
    after = as_id(request.args.get("depois"))
    return jsonify({"status": ticket.status, "status_label": rules.status_label(ticket),
                    "closed": ticket.status == CLOSED,
                    "messages": [_message_view(m) for m in rules.conversation(ticket, after)]})


@bp.route("/protocolos/<int:ticket_id>/responder", methods=["POST"], endpoint="reply")
@account_required
def reply(ticket_id):
    account = current_account()
    ticket = _protocol_or_404(account, ticket_id)
    text = request.form.get("message")
    try:
        rules.reply(account, ticket.id, text if isinstance(text, str) else None,
                    request.files.getlist("files"))
        after_commit.commit()
    except RuleError as exc:
        db.session.rollback()  # nothing half-done stays (after_commit drops its work)
        flash(str(exc), "error")
        return redirect(url_for("portal.protocol", ticket_id=ticket_id))
    flash(_("Mensagem enviada."), "success")
    return redirect(url_for("portal.protocol", ticket_id=ticket_id))


@bp.route("/protocolos/<int:ticket_id>/anexos/<int:message_id>", endpoint="attachment")
@account_required
def attachment(ticket_id, message_id):
    account = current_account()
    try:
        message = rules.message_of(account, ticket_id, message_id)
    except rules.ProtocolNotFound:
        abort(404)
    path = attachments.file_of(message)
    if path is None:
        abort(404)
    return private_file(path, message.file_name, message.file_mime)
