"""Central de Telefonia (TEL-1): the company's PABX server settings, one row per company."""
from __future__ import annotations

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import TenantMixin

# The usual ports of an Asterisk-style PABX; a new company's row starts with them.
DEFAULT_PORTS = {
    "sip_port": 5060,
    "sip_tls_port": 5061,
    "rtp_port_start": 10000,
    "rtp_port_end": 20000,
    "ami_port": 5038,
    "websocket_port": 8089,
}


class TelephonySettings(TenantMixin, db.Model):
    """Created on the company's first visit to the screen (services.telephony.settings_for).

    allowed_ips / blocked_ips: one IPv4/IPv6 address or CIDR block per line, normalised
    by services.telephony (e.g. "192.168.1.7/24" is stored as "192.168.1.0/24").
    """

    __tablename__ = "telephony_settings"
    __table_args__ = (UniqueConstraint("company_id", name="uq_telephony_settings_company"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pabx_host: Mapped[str | None] = mapped_column(String(253))
    sip_port: Mapped[int] = mapped_column(Integer, default=DEFAULT_PORTS["sip_port"])
    sip_tls_port: Mapped[int] = mapped_column(Integer, default=DEFAULT_PORTS["sip_tls_port"])
    rtp_port_start: Mapped[int] = mapped_column(Integer, default=DEFAULT_PORTS["rtp_port_start"])
    rtp_port_end: Mapped[int] = mapped_column(Integer, default=DEFAULT_PORTS["rtp_port_end"])
    ami_port: Mapped[int] = mapped_column(Integer, default=DEFAULT_PORTS["ami_port"])
    websocket_port: Mapped[int] = mapped_column(Integer, default=DEFAULT_PORTS["websocket_port"])
    allowed_ips: Mapped[str | None] = mapped_column(Text)
    blocked_ips: Mapped[str | None] = mapped_column(Text)

    def __str__(self) -> str:
        return self.pabx_host or "Central de Telefonia"
