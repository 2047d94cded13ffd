"""TEL-1 Central de Telefonia: PABX host, the ports of each service with defaults, and the
allowed/blocked lists of IPs and CIDR blocks, validated and normalised. One row per company."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import TelephonySettings
from backoffice.models.telephony import DEFAULT_PORTS
from backoffice.services import telephony
from tests.conftest import flashes, login
from tests.factories import gen_company

INVALID = "Linha {n}: '{value}' não é um IP ou bloco CIDR válido."
HOST_ERROR = "Servidor PABX inválido"
PORT_ERROR = "Informe uma porta entre 1 e 65535."
COLUMNS = ("pabx_host", *DEFAULT_PORTS, "allowed_ips", "blocked_ips")


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _row(app, **where) -> dict:
    with app.app_context():
        q = select(TelephonySettings)
        for key, value in where.items():
            q = q.where(getattr(TelephonySettings, key) == value)
        (row,) = db.session.scalars(q).all()
        return {"id": row.id, "company_id": row.company_id,
                **{name: getattr(row, name) for name in COLUMNS}}


def _count(app, company_id) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(TelephonySettings.id)).where(
            TelephonySettings.company_id == company_id))


def _data(**over) -> dict:
    data = {"pabx_host": "pabx.alfa.example.com", **{k: str(v) for k, v in DEFAULT_PORTS.items()},
            "allowed_ips": "", "blocked_ips": ""}
    data.update({k: str(v) for k, v in over.items()})
    return data


def _save(client, tenants, key="a", **over):
    return client.submit(f"/admin/telephony/edit/?id={tenants[key].ids['telephony']}", _data(**over))


# --- defaults and the single row --------------------------------------------------------------

def test_TEL_1_default_ports_on_a_new_companys_row(app, tenants):
    with app.app_context():
        company, admin = gen_company("Gama Telecom", "admin-gama@example.com")
        db.session.commit()
        company_id = company.id
    assert _count(app, company_id) == 0
    client = app.test_client()
    login(client, "admin-gama@example.com")
    # UX-5: the menu's link opens the form of the defaults (no list of one row)
    page = client.get("/admin/telephony/")
    assert page.headers["Location"].endswith("/admin/telephony/edit/?id=padrao")
    # SEC-8: showing the defaults writes nothing; the first save creates the row
    form = client.get("/admin/telephony/edit/?id=padrao").text
    assert 'value="5060"' in form and 'value="8089"' in form
    assert _count(app, company_id) == 0
    client.submit("/admin/telephony/edit/?id=padrao", _data(pabx_host=""))
    row = _row(app, company_id=company_id)
    assert {k: row[k] for k in DEFAULT_PORTS} == {
        "sip_port": 5060, "sip_tls_port": 5061, "rtp_port_start": 10000, "rtp_port_end": 20000,
        "ami_port": 5038, "websocket_port": 8089,
    }
    assert not row["pabx_host"] and not row["allowed_ips"] and not row["blocked_ips"]
    # later visits and saves reuse the row
    client.get("/admin/telephony/")
    client.submit("/admin/telephony/edit/?id=padrao", _data(pabx_host=""))
    assert _count(app, company_id) == 1


def test_TEL_1_settings_for_creates_once(app, tenants):
    with app.test_request_context():
        company, _admin = gen_company("Delta", "admin-delta@example.com")
        db.session.commit()
        first = telephony.settings_for(company.id)
        second = telephony.settings_for(company.id)
        assert first.id == second.id and first.sip_port == 5060
    assert _count(app, company.id) == 1


def test_TEL_1_no_create_and_no_delete(app, tenants, a_client):
    a = tenants["a"]
    listing = a_client.get("/admin/telephony/", follow_redirects=True).text
    assert "/admin/telephony/new/" not in listing
    assert a_client.get("/admin/telephony/new/").status_code == 302
    a_client.submit("/admin/telephony/new/", _data(pabx_host="outro.example.com"))
    a_client.submit("/admin/telephony/delete/", {"id": str(a.ids["telephony"])})
    a_client.submit("/admin/telephony/action/", {"action": "delete", "rowid": str(a.ids["telephony"])})
    assert _count(app, a.company_id) == 1
    assert _row(app, id=a.ids["telephony"])["pabx_host"] == "pabx-exclusivo-a.example.com"


# --- PABX host and ports ----------------------------------------------------------------------

@pytest.mark.parametrize("typed, stored", [
    ("PABX.Alfa.Example.COM.", "pabx.alfa.example.com"),
    ("  10.1.2.3 ", "10.1.2.3"),
    ("2001:DB8:0::10", "2001:db8::10"),
    ("pabx", "pabx"),
    ("", None),
])
def test_TEL_1_pabx_host_name_or_ip_is_saved_normalised(app, tenants, a_client, typed, stored):
    page = _save(a_client, tenants, pabx_host=typed)
    assert page.status_code == 302, flashes(page.text)
    assert _row(app, id=tenants["a"].ids["telephony"])["pabx_host"] == stored


@pytest.mark.parametrize("typed", [
    "pabx.example.com:5060", "sip://pabx.example.com", "http://pabx.example.com", "300.1.1.1",
    "pa bx.example.com", "-pabx.example.com", "pabx..example.com", "10.0.0.0/24", "pabx_1.example",
])
def test_TEL_1_invalid_pabx_host_is_refused(app, tenants, a_client, typed):
    page = _save(a_client, tenants, pabx_host=typed)
    assert page.status_code == 200
    assert HOST_ERROR in page.text
    assert _row(app, id=tenants["a"].ids["telephony"])["pabx_host"] == "pabx-exclusivo-a.example.com"


def test_TEL_1_ports_are_saved(app, tenants, a_client):
    ports = {"sip_port": 5070, "sip_tls_port": 5071, "rtp_port_start": 30000, "rtp_port_end": 30100,
             "ami_port": 1, "websocket_port": 65535}
    page = _save(a_client, tenants, **ports)
    assert page.status_code == 302, flashes(page.text)
    row = _row(app, id=tenants["a"].ids["telephony"])
    assert {k: row[k] for k in ports} == ports


@pytest.mark.parametrize("over, message", [
    ({"sip_port": 0}, PORT_ERROR),
    ({"sip_port": 65536}, PORT_ERROR),
    ({"ami_port": -5038}, PORT_ERROR),
    ({"websocket_port": "80a"}, PORT_ERROR),
    ({"rtp_port_end": 70000}, PORT_ERROR),
    ({"sip_tls_port": ""}, "Informe a porta."),
    ({"rtp_port_start": 20000, "rtp_port_end": 10000},
     "A porta RTP inicial deve ser menor que a porta RTP final."),
    ({"rtp_port_start": 15000, "rtp_port_end": 15000},
     "A porta RTP inicial deve ser menor que a porta RTP final."),
    ({"ami_port": 5060}, "Porta SIP e Porta AMI não podem usar a mesma porta (5060)."),
    ({"websocket_port": 12000}, "Porta WebSocket (WSS) (12000) está dentro da faixa RTP (10000 a 20000)."),
])
def test_TEL_1_port_ranges_are_enforced(app, tenants, a_client, over, message):
    page = _save(a_client, tenants, **over)
    assert page.status_code == 200
    assert message in html.unescape(page.text)
    row = _row(app, id=tenants["a"].ids["telephony"])
    assert {k: row[k] for k in DEFAULT_PORTS} == DEFAULT_PORTS


# --- allowed / blocked IPs --------------------------------------------------------------------

def test_TEL_1_ipv4_ipv6_and_cidr_blocks_are_accepted_and_normalised(app, tenants, a_client):
    allowed = "\n".join([
        "200.150.10.5",
        "  192.168.1.77/24  ",     # host bits dropped
        "",
        "2001:DB8:0:0::1",         # IPv6, compressed and lower case
        "2001:db8:abcd:12:ffff::/64",
        "10.0.0.1/32",             # a /32 is the address itself
        "200.150.10.5",            # repeated: kept once
        "10.0.0.0/255.255.0.0",    # netmask form
    ])
    blocked = "203.0.113.0/24\r\n2001:db8:dead::/48\r\n198.51.100.7\r\n"
    page = _save(a_client, tenants, allowed_ips=allowed, blocked_ips=blocked)
    assert page.status_code == 302, flashes(page.text)
    row = _row(app, id=tenants["a"].ids["telephony"])
    assert row["allowed_ips"].split("\n") == [
        "200.150.10.5", "192.168.1.0/24", "2001:db8::1", "2001:db8:abcd:12::/64", "10.0.0.1",
        "10.0.0.0/16",
    ]
    assert row["blocked_ips"].split("\n") == ["203.0.113.0/24", "2001:db8:dead::/48", "198.51.100.7"]
    # the form shows what is stored, one per line
    form = a_client.get(f"/admin/telephony/edit/?id={row['id']}").text
    assert "192.168.1.0/24\n2001:db8::1" in form


def test_TEL_1_empty_lists_are_stored_as_empty(app, tenants, a_client):
    _save(a_client, tenants, allowed_ips="10.0.0.1")
    assert _save(a_client, tenants, allowed_ips="  \n\n").status_code == 302
    assert _row(app, id=tenants["a"].ids["telephony"])["allowed_ips"] is None


def test_TEL_1_invalid_entries_are_refused_with_their_line_numbers(app, tenants, a_client):
    allowed = "10.0.0.1\n\n300.1.1.1\nabc\n10.0.0.0/33\n2001:db8::g\n192.168.0.1/24\nfe80::1%eth0"
    page = _save(a_client, tenants, allowed_ips=allowed, blocked_ips="1.2.3\n8.8.8.8")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for n, value in ((3, "300.1.1.1"), (4, "abc"), (5, "10.0.0.0/33"), (6, "2001:db8::g"),
                     (8, "fe80::1%eth0")):
        assert INVALID.format(n=n, value=value) in text
    assert INVALID.format(n=1, value="1.2.3") in text  # blocked list counts its own lines
    assert "Linha 1: '10.0.0.1'" not in text and "Linha 7:" not in text
    row = _row(app, id=tenants["a"].ids["telephony"])
    assert row["allowed_ips"] is None and row["blocked_ips"] is None


def test_TEL_1_an_overlong_invalid_line_is_shortened_in_the_message(app, tenants, a_client):
    page = _save(a_client, tenants, allowed_ips="1" * 300)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Linha 1: '" + "1" * 60 + "…'" in text and "1" * 61 not in text.split("Linha 1")[1][:80]


def test_TEL_1_an_entry_both_allowed_and_blocked_is_refused(app, tenants, a_client):
    page = _save(a_client, tenants, allowed_ips="10.0.0.1\n192.168.0.0/24",
                 blocked_ips="172.16.0.1\n10.0.0.1/32\n192.168.0.9/24")
    assert page.status_code == 200
    assert ("Um mesmo endereço não pode estar liberado e bloqueado: 10.0.0.1, 192.168.0.0/24."
            in html.unescape(page.text))
    row = _row(app, id=tenants["a"].ids["telephony"])
    assert row["allowed_ips"] is None and row["blocked_ips"] is None
    # a single address blocked inside an allowed block is a legitimate exception
    page = _save(a_client, tenants, allowed_ips="192.168.0.0/24", blocked_ips="192.168.0.9")
    assert page.status_code == 302, flashes(page.text)


@pytest.mark.parametrize("text, expected", [
    ("8.8.8.8", "8.8.8.8"),
    ("8.8.8.0/24", "8.8.8.0/24"),
    ("8.8.8.8/24", "8.8.8.0/24"),
    ("::1", "::1"),
    ("2001:0db8:0000:0000:0000:0000:0000:0001/128", "2001:db8::1"),
    ("2001:db8::1/32", "2001:db8::/32"),
    ("0.0.0.0/0", "0.0.0.0/0"),
    ("256.0.0.1", None),
    ("8.8.8.8/", None),
    ("8.8.8.8/-1", None),
    ("010.1.1.1", None),
    ("8.8.8.8 9.9.9.9", None),
    ("localhost", None),
])
def test_TEL_1_normalise_ip_entry(text, expected):
    assert telephony.normalise_ip_entry(text) == expected


# --- tenancy ----------------------------------------------------------------------------------

def test_TEL_1_other_companys_row_is_invisible_and_untouchable(app, tenants, a_client):
    a, b = tenants["a"], tenants["b"]
    listing = a_client.get("/admin/telephony/", follow_redirects=True).text
    assert "pabx-exclusivo-a.example.com" in listing
    assert "pabx-exclusivo-b.example.com" not in listing
    page = a_client.get(f"/admin/telephony/edit/?id={b.ids['telephony']}", follow_redirects=True)
    assert "pabx-exclusivo-b.example.com" not in page.text
    _save(a_client, tenants, key="b", pabx_host="invadido.example.com", allowed_ips="6.6.6.6")
    row = _row(app, id=b.ids["telephony"])
    assert row["pabx_host"] == "pabx-exclusivo-b.example.com" and row["allowed_ips"] is None
    assert row["company_id"] == b.company_id
    # the first visit of A never creates or touches a row for B
    assert _count(app, a.company_id) == 1 and _count(app, b.company_id) == 1
