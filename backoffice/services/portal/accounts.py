"""Representatives of the Fale Conosco portal (POR-1): customer organisations, their
accounts, the single-use links that set a password, and the portal's login.

- Accounts are `PortalAccount` rows, never `User`s: the portal's login looks up this
  table only, so a panel user's e-mail and password open no portal, and a portal login
  opens no panel (portal/guard.py keeps its own session key).
- Links (invitation: 7 days; reset: 1 hour) are random tokens of which only the SHA-256
  is stored; one use, claimed with a conditional UPDATE so two submits cannot both pass;
  setting a password spends every other open link of the account.
- The login is throttled like the panel's (SEC-5, services/auth): growing delays per
  address and per company + e-mail typed, under scopes of their own, with the same
  answer for an unknown e-mail as for a wrong password.
- Password change, reset and deactivation raise `auth_version`, which ends the
  account's other sessions at their next request (guard.current_account).
- Mails go through services/mail after the commit: a rolled-back invitation sends no
  link that would not work.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ...extensions import db
from ...jobs.runner import tasks
from ...lib import after_commit, passwords
from ...lib.documents import normalise_cnpj
from ...lib.phones import normalise_phone
from ...models import Company, Contact, utcnow
from ...models.portal import (TOKEN_INVITE, TOKEN_RESET, CustomerOrganization, PortalAccount,
                              PortalRequest, PortalToken)
from .. import RuleError, mail, ratelimit
from ..auth import (check_new_password, check_unknown_password, throttle_rules,
                    throttled_message)
from ..contacts import normalise_email
from . import settings as portal_settings

INVITE_DAYS = 7
RESET_MINUTES = 60
IP_SCOPE = "portal-login-ip"
LOGIN_SCOPE = "portal-login"
RESET_IP_SCOPE = "portal-reset-ip"
RESET_EMAIL_SCOPE = "portal-reset-email"
BAD_LINK = _l("Este link é inválido ou expirou. Peça um novo.")


# --- organisations and accounts ------------------------------------------------------------


def check_organization(org: CustomerOrganization, exclude_id: int | None = None) -> None:
    """Tidy in place: name required, CNPJ optional but valid (python-stdnum) and unique
    in the company."""
    org.name = (org.name or "").strip()
    if not org.name:
        raise RuleError(_l("Informe o nome do cliente."))
    if len(org.name) > 120:
        raise RuleError(_l("O nome pode ter até 120 caracteres."))
    org.cnpj = normalise_cnpj(org.cnpj)
    org.active = bool(org.active)
    if org.cnpj is not None:
        q = CustomerOrganization.owned(org.company_id, CustomerOrganization.id).where(
            CustomerOrganization.cnpj == org.cnpj)
        if exclude_id is not None:
            q = q.where(CustomerOrganization.id != exclude_id)
        with db.session.no_autoflush:
            taken = db.session.scalar(q.limit(1)) is not None
        if taken:
            raise RuleError(_l("Já existe um cliente do portal com este CNPJ."))


def check_organization_delete(org: CustomerOrganization) -> None:
    used = select(PortalRequest.id).where(PortalRequest.company_id == org.company_id,
                                          PortalRequest.organization_id == org.id).limit(1)
    if db.session.scalar(used) is not None:
        raise RuleError(_l("Este cliente tem protocolos: desative-o em vez de excluir, para "
                           "não perder o histórico."))


def check_account(account: PortalAccount, exclude_id: int | None = None) -> None:
    """Tidy in place: name and e-mail required, phone normalised like the contacts', the
    e-mail unique among the company's representatives, the organisation the company's."""
    account.name = (account.name or "").strip()
    if not account.name:
        raise RuleError(_l("Informe o nome do representante."))
    if len(account.name) > 120:
        raise RuleError(_l("O nome pode ter até 120 caracteres."))
    account.email = normalise_email(account.email)
    if not account.email:
        raise RuleError(_l("Informe o e-mail do representante."))
    account.phone = normalise_phone(account.phone)
    org = account.organization or (db.session.get(CustomerOrganization, account.organization_id)
                                   if account.organization_id else None)
    if org is None or org.company_id != account.company_id:
        raise RuleError(_l("Escolha o cliente do portal do representante."))
    q = PortalAccount.owned(account.company_id, PortalAccount.id).where(
        PortalAccount.email == account.email)
    if exclude_id is not None:
        q = q.where(PortalAccount.id != exclude_id)
    with db.session.no_autoflush:  # the row being checked is not written before the check
        taken = db.session.scalar(q.limit(1)) is not None
    if taken:
        raise RuleError(_l("Este e-mail já é de um representante do portal."))


def _end_sessions(account: PortalAccount) -> None:
    # the guard compares the session's version with this one on every request
    account.auth_version = (account.auth_version or 1) + 1


def _spend_links(account: PortalAccount) -> None:
    db.session.execute(update(PortalToken).where(
        PortalToken.account_id == account.id, PortalToken.used_at.is_(None))
        .values(used_at=utcnow()))


def deactivate(account: PortalAccount) -> None:
    """The account can no longer log in; its sessions and open links end now."""
    account.active = False
    _end_sessions(account)
    if account.id is not None:
        _spend_links(account)


def on_account_saved(account: PortalAccount, was_active: bool | None) -> None:
    """The screen's save: a representative switched off loses sessions and links."""
    if was_active and not account.active:
        _end_sessions(account)
        if account.id is not None:
            _spend_links(account)


# --- links and mail --------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _base_url(site_url: str) -> str:
    return current_app.config.get("MAIL_BASE_URL") or site_url


def _link(company: Company, token: str, base_url: str) -> str:
    with current_app.test_request_context(base_url=base_url):
        return url_for("portal.set_password", domain=company.domain, token=token, _external=True)


def _new_token(account: PortalAccount, purpose: str, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    db.session.add(PortalToken(company_id=account.company_id, account_id=account.id,
                               purpose=purpose, token_hash=_hash(token),
                               expires_at=utcnow() + lifetime))
    return token


def _portal_name(company: Company) -> str:
    row = portal_settings.read_settings(company.id)
    return row.title or company.name


def _send_later(to: str, subject: str, body: str) -> None:
    after_commit.later(lambda: mail.send(to, subject, body))


def invite(account: PortalAccount, site_url: str) -> None:
    """Queue the invitation mail (sent after the commit) with a 7-day single-use link.
    Earlier open links of the account stop working."""
    company = db.session.get(Company, account.company_id)
    if not portal_settings.read_settings(company.id).enabled:
        raise RuleError(_l("O portal está desativado: ative-o em Portal Fale Conosco antes de "
                           "enviar convites."))
    if not account.active or not account.organization.active:
        raise RuleError(_l("O representante ou o cliente está desativado: ative-o antes de "
                           "enviar o convite."))
    db.session.flush()  # the account's id, for the link row
    _spend_links(account)
    token = _new_token(account, TOKEN_INVITE, timedelta(days=INVITE_DAYS))
    account.invited_at = utcnow()
    link = _link(company, token, _base_url(site_url))
    name = _portal_name(company)
    subject = _("%(portal)s: convite para o portal Fale Conosco", portal=name)
    body = _("Olá, %(name)s.\n\n%(company)s convidou você para abrir e acompanhar seus "
             "contatos pelo portal Fale Conosco, como representante de %(organization)s.\n\n"
             "Para criar a sua senha, abra o link abaixo; ele vale por %(days)d dias e uma "
             "única vez:\n\n%(link)s\n\nSe você não esperava este convite, ignore este e-mail.",
             name=account.name, company=company.name, organization=account.organization.name,
             days=INVITE_DAYS, link=link)
    _send_later(account.email, subject, body)


def find_token(company_id: int, token: str | None) -> PortalToken | None:
    """The link `token` of this company while it can still be used, else None."""
    if not token or len(token) > 128 or "\x00" in token:
        return None
    row = db.session.scalar(PortalToken.owned(company_id).where(
        PortalToken.token_hash == _hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    account = row.account
    if not account.active or not account.organization.active:
        return None
    return row


def hash_password(password: str) -> str:
    return passwords.make(password)


def set_password(company_id: int, token: str, password: str, confirm: str) -> PortalAccount:
    """Spend the link and set the password; every session of the account ends, every
    other link dies. The caller commits."""
    row = find_token(company_id, token)
    if row is None:
        raise RuleError(str(BAD_LINK))
    password = check_new_password(password, confirm)
    claimed = db.session.execute(
        update(PortalToken).where(PortalToken.id == row.id, PortalToken.used_at.is_(None))
        .values(used_at=utcnow())).rowcount
    if claimed != 1:
        db.session.rollback()
        raise RuleError(str(BAD_LINK))
    account = row.account
    _spend_links(account)
    account.password_hash = hash_password(password)
    _end_sessions(account)
    ratelimit.forget(LOGIN_SCOPE, _ident(company_id, account.email))
    return account


def change_password(account: PortalAccount, current: str, password: str, confirm: str) -> None:
    """The logged-in representative's new password; their other sessions end (the caller
    signs the current one in again with the new version)."""
    if not account.password_hash or not passwords.matches(account.password_hash, current or ""):
        raise RuleError(_("A senha atual está incorreta."))
    account.password_hash = hash_password(check_new_password(password, confirm))
    _end_sessions(account)


def ask_reset(company_id: int, email: str, ip: str | None, site_url: str) -> str | None:
    """"Esqueci minha senha" of the portal. The answer never depends on the e-mail
    existing: the lookup runs in a background job. An error only when the address asks
    too often (which says nothing about the e-mail)."""
    if ratelimit.hit(RESET_IP_SCOPE, ip or "?",
                     ratelimit.parse(current_app.config["PASSWORD_RESET_LIMIT"])):
        return _("Muitas solicitações. Tente novamente mais tarde.")
    email = normalise_email_or_blank(email)
    # per e-mail, silently: a victim's inbox must not be flooded
    if ratelimit.hit(RESET_EMAIL_SCOPE, _ident(company_id, email), [(3, 3600)]):
        return None
    tasks.enqueue("backoffice.jobs.mail.portal_reset", company_id, email, _base_url(site_url))
    return None


def send_reset(company_id: int, email: str, base_url: str) -> None:
    """The background half of ask_reset: a 1-hour link for an active account of an
    enabled portal (also one whose invitation expired unused), else nothing."""
    account = find_account(company_id, email)
    if account is None or not account.active or not account.organization.active:
        return
    company = db.session.get(Company, company_id)
    if not portal_settings.read_settings(company_id).enabled:
        return
    token = _new_token(account, TOKEN_RESET, timedelta(minutes=RESET_MINUTES))
    link = _link(company, token, base_url)
    subject = _("%(portal)s: redefinição de senha", portal=_portal_name(company))
    body = _("Olá, %(name)s.\n\nRecebemos um pedido para criar uma nova senha para a sua "
             "conta no portal Fale Conosco de %(company)s. Abra o link abaixo; ele vale por "
             "%(minutes)d minutos e uma única vez:\n\n%(link)s\n\nSe não foi você, ignore "
             "este e-mail: a sua senha continua a mesma.",
             name=account.name, company=company.name, minutes=RESET_MINUTES, link=link)
    _send_later(account.email, subject, body)
    after_commit.commit()


# --- login -----------------------------------------------------------------------------------


def normalise_email_or_blank(email: str | None) -> str:
    return (email or "").strip().lower()


def _ident(company_id: int, email: str | None) -> str:
    # counters keyed by a digest: no e-mail addresses in Redis
    text = f"{company_id}:{normalise_email_or_blank(email)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def find_account(company_id: int, email: str | None) -> PortalAccount | None:
    email = normalise_email_or_blank(email)
    if not email or "\x00" in email or len(email) > 254:
        return None
    return db.session.scalar(PortalAccount.owned(company_id).where(PortalAccount.email == email))


@dataclass
class LoginResult:
    account: PortalAccount | None
    error: str | None


def authenticate(company_id: int, email: str, password: str, ip: str | None) -> LoginResult:
    """E-mail and password of a representative of this company, under the throttle.
    Unknown e-mails, accounts without a password yet and wrong passwords take the same
    path and get the same answer."""
    account = find_account(company_id, email)
    ip_rule, account_rule = throttle_rules()
    ip = ip or "?"
    ident = _ident(company_id, email)
    wait = ratelimit.attempt([(IP_SCOPE, ip, ip_rule), (LOGIN_SCOPE, ident, account_rule)])
    if wait:
        return LoginResult(None, throttled_message(wait))
    stored = account.password_hash if account is not None else None
    if stored is None:
        check_unknown_password(password)
        return LoginResult(None, _("E-mail ou senha incorretos."))
    if not passwords.matches(stored, password or ""):
        return LoginResult(None, _("E-mail ou senha incorretos."))
    ratelimit.uncount(IP_SCOPE, ip)
    ratelimit.forget(LOGIN_SCOPE, ident)
    if not account.active or not account.organization.active:
        return LoginResult(None, _("Este acesso está desativado. Fale com a empresa."))
    account.last_login_at = utcnow()
    return LoginResult(account, None)


# --- the contact screen's "Convidar para o portal" ----------------------------------------


def invite_contact(contact: Contact, site_url: str, organization_id=None,
                   new_name: str | None = None, new_cnpj: str | None = None) -> PortalAccount:
    """Make the contact a representative of an organisation (an existing one, or a new
    one by name and CNPJ) and queue the invitation. The caller commits."""
    email = normalise_email(contact.email) if contact.email else None
    if not email:
        raise RuleError(_l("O contato não tem e-mail: cadastre o e-mail dele antes de convidar."))
    if find_account(contact.company_id, email) is not None:
        raise RuleError(_l("Este e-mail já é de um representante do portal."))
    if (new_name or "").strip():
        org = CustomerOrganization(company_id=contact.company_id, name=new_name,
                                   cnpj=new_cnpj, active=True)
        check_organization(org)
        db.session.add(org)
    else:
        org = CustomerOrganization.get_owned(contact.company_id, organization_id)
        if org is None:
            raise RuleError(_l("Escolha um cliente do portal ou informe o nome de um novo."))
        if not org.active:
            raise RuleError(_l("Este cliente do portal está desativado."))
    account = PortalAccount(company_id=contact.company_id, organization=org,
                            contact_id=contact.id, name=contact.name, email=email,
                            phone=contact.phone, active=True, auth_version=1)
    check_account(account)
    db.session.add(account)
    db.session.flush()
    invite(account, site_url)
    return account
