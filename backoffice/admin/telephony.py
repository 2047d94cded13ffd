"""Central de Telefonia (TEL-1): PABX server, service ports and allowed/blocked IPs.

One row per company, like the Empresa screen: the company sees and edits its own row only,
never creates or deletes one; the row is created with the default ports on first visit.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import Length, StopValidation, ValidationError

from ..models import TelephonySettings
from ..models.telephony import DEFAULT_PORTS
from ..services import RuleError
from ..services import telephony as rules
from .base import CompanySettingsView


class PortField(IntegerField):
    """A port number; anything that is not a whole number gets the Portuguese message."""

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError(rules.port_error(None))


def _port_in_range(form, field):
    if field.data is None:
        raise StopValidation(_("Informe a porta."))
    problem = rules.port_error(field.data)
    if problem:
        raise ValidationError(problem)


def _valid_host(form, field):
    try:
        field.data = rules.check_host(field.data)
    except RuleError as exc:
        raise ValidationError(str(exc))


def _valid_ip_list(form, field):
    """Every invalid line reported, each with its number (a field may hold many errors)."""
    _entries, errors = rules.parse_ip_list(field.data)
    field.errors.extend(errors)


IP_LIST_HELP = _l("Um endereço IPv4 ou IPv6, ou um bloco CIDR, por linha. "
                  "Exemplos: 200.150.10.5, 192.168.0.0/24, 2001:db8::/32.")


def _port(name: str, description=None) -> PortField:
    return PortField(rules.PORT_LABELS[name], validators=[_port_in_range], description=description)


class TelephonyView(CompanySettingsView):
    area = "telephony"
    can_export = False
    column_list = ["pabx_host", "sip_port", "sip_tls_port", "rtp_port_start", "rtp_port_end",
                   "ami_port", "websocket_port"]
    column_details_list = column_list + ["allowed_ips", "blocked_ips"]
    column_labels = {
        "pabx_host": _l("Servidor PABX"), **rules.PORT_LABELS,
        "allowed_ips": _l("IPs liberados"), "blocked_ips": _l("IPs bloqueados"),
    }
    form_columns = ["pabx_host", "sip_port", "sip_tls_port", "rtp_port_start", "rtp_port_end",
                    "ami_port", "websocket_port", "allowed_ips", "blocked_ips"]
    form_extra_fields = {
        "pabx_host": StringField(
            _l("Servidor PABX"), validators=[Length(max=253), _valid_host],
            description=_l("Nome de host ou endereço IP do servidor. Exemplo: pabx.suaempresa.com.br."),
        ),
        "sip_port": _port("sip_port", _l("Padrão: 5060.")),
        "sip_tls_port": _port("sip_tls_port", _l("Padrão: 5061.")),
        "rtp_port_start": _port("rtp_port_start", _l("Início da faixa de portas de áudio. Padrão: 10000.")),
        "rtp_port_end": _port("rtp_port_end", _l("Fim da faixa de portas de áudio. Padrão: 20000.")),
        "ami_port": _port("ami_port", _l("Asterisk Manager Interface. Padrão: 5038.")),
        "websocket_port": _port("websocket_port", _l("WebSocket seguro do softphone. Padrão: 8089.")),
        "allowed_ips": TextAreaField(_l("IPs liberados"), validators=[Length(max=100_000), _valid_ip_list],
                                     description=IP_LIST_HELP, render_kw={"rows": 6}),
        "blocked_ips": TextAreaField(_l("IPs bloqueados"), validators=[Length(max=100_000), _valid_ip_list],
                                     description=IP_LIST_HELP, render_kw={"rows": 6}),
    }

    def default_row(self, company_id):
        return TelephonySettings(company_id=company_id, **DEFAULT_PORTS)

    def validate_change(self, form, model, is_created):
        rules.apply(model)
