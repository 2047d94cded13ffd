"""Central de Telefonia (TEL-1): PABX host, service ports and the allowed/blocked IP lists."""
from __future__ import annotations

import ipaddress

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import TelephonySettings
from ..models.telephony import DEFAULT_PORTS
from . import RuleError
from ..lib.hosts import normalise_host

PORT_MIN, PORT_MAX = 1, 65535
MAX_ENTRIES = 1000  # per list

PORT_LABELS = {
    "sip_port": _l("Porta SIP"),
    "sip_tls_port": _l("Porta SIP TLS"),
    "rtp_port_start": _l("Porta RTP inicial"),
    "rtp_port_end": _l("Porta RTP final"),
    "ami_port": _l("Porta AMI"),
    "websocket_port": _l("Porta WebSocket (WSS)"),
}
# Ports of services that listen on one port each (the RTP range is for media).
SERVICE_PORTS = ("sip_port", "sip_tls_port", "ami_port", "websocket_port")


def settings_for(company_id: int) -> TelephonySettings:
    """The company's row, created with the default ports on first use (and committed).

    Two first visits at once: the unique company_id lets one insert win; the other
    rolls back and reads that row.
    """
    row = _find(company_id)
    if row is None:
        db.session.add(TelephonySettings(company_id=company_id, **DEFAULT_PORTS))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        row = _find(company_id)
    return row


def _find(company_id: int) -> TelephonySettings | None:
    return db.session.scalar(TelephonySettings.owned(company_id))


# --- PABX host -----------------------------------------------------------------------------

def check_host(value: str | None) -> str | None:
    """A host name or an IP address; empty means "not configured yet"."""
    if not (value or "").strip():
        return None
    host = normalise_host(value)
    if host is None:
        raise RuleError(_l("Servidor PABX inválido: informe um nome de host (pabx.exemplo.com.br) "
                           "ou um endereço IP, sem http:// e sem porta."))
    return host


# --- ports ---------------------------------------------------------------------------------

def port_error(value) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not PORT_MIN <= value <= PORT_MAX:
        return _("Informe uma porta entre %(min)d e %(max)d.", min=PORT_MIN, max=PORT_MAX)
    return None


def check_ports(ports: dict[str, int]) -> None:
    """Each port in 1..65535, RTP start below RTP end, the services on distinct ports
    outside the RTP range (two services on one port cannot both listen)."""
    for name, label in PORT_LABELS.items():
        problem = port_error(ports.get(name))
        if problem:
            raise RuleError(f"{label}: {problem}")
    start, end = ports["rtp_port_start"], ports["rtp_port_end"]
    if start >= end:
        raise RuleError(_("A porta RTP inicial deve ser menor que a porta RTP final."))
    seen: dict[int, str] = {}
    for name in SERVICE_PORTS:
        port, label = ports[name], str(PORT_LABELS[name])
        if port in seen:
            raise RuleError(_("%(a)s e %(b)s não podem usar a mesma porta (%(port)d).",
                              a=seen[port], b=label, port=port))
        seen[port] = label
        if start <= port <= end:
            raise RuleError(_("%(name)s (%(port)d) está dentro da faixa RTP (%(start)d a %(end)d).",
                              name=label, port=port, start=start, end=end))


# --- allowed / blocked IPs -----------------------------------------------------------------

def normalise_ip_entry(text: str) -> str | None:
    """"10.0.0.7/24" -> "10.0.0.0/24"; "2001:DB8::0:1" -> "2001:db8::1"; a /32 or /128
    block -> the plain address; None when the text is no address or block."""
    if "%" in text:  # IPv6 zone ids ("fe80::1%eth0") mean nothing to a remote PABX
        return None
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
            if network.prefixlen == network.max_prefixlen:
                return str(network.network_address)
            return str(network)
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _shown(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def parse_ip_list(text: str | None) -> tuple[list[str], list[str]]:
    """(normalised entries without repeats, one error message per invalid line).

    Line numbers count every line as the user sees it in the text box, blank ones too.
    """
    entries: list[str] = []
    errors: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        item = line.strip()
        if not item:
            continue
        value = normalise_ip_entry(item)
        if value is None:
            errors.append(_("Linha %(n)d: '%(value)s' não é um IP ou bloco CIDR válido.",
                            n=number, value=_shown(item)))
        elif value not in entries:
            entries.append(value)
    if len(entries) > MAX_ENTRIES:
        errors.append(_("Informe no máximo %(max)d entradas.", max=MAX_ENTRIES))
    return entries, errors


def check_ip_lists(allowed_text: str | None, blocked_text: str | None) -> tuple[str | None, str | None]:
    """Both lists normalised, one entry per line (None when empty), or RuleError."""
    allowed, allowed_errors = parse_ip_list(allowed_text)
    blocked, blocked_errors = parse_ip_list(blocked_text)
    if allowed_errors or blocked_errors:
        raise RuleError(" ".join(allowed_errors + blocked_errors))
    both = [entry for entry in allowed if entry in blocked]
    if both:
        raise RuleError(_("Um mesmo endereço não pode estar liberado e bloqueado: %(entries)s.",
                          entries=", ".join(both)))
    return "\n".join(allowed) or None, "\n".join(blocked) or None


def apply(settings: TelephonySettings) -> None:
    """Validate and normalise a row about to be saved (the admin view calls this)."""
    settings.pabx_host = check_host(settings.pabx_host)
    check_ports({name: getattr(settings, name) for name in PORT_LABELS})
    settings.allowed_ips, settings.blocked_ips = check_ip_lists(settings.allowed_ips,
                                                                settings.blocked_ips)
