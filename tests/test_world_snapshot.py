"""SCL (issue 17, test time): the `tenants` world a test gets from the run's snapshot
(tests/world_snapshot.py) is the world `populate_company` builds, row by row, with its
encrypted secrets readable and its id sequences where the build left them."""
from __future__ import annotations

from sqlalchemy import DateTime, select, text

from backoffice.extensions import db
from backoffice.models import Contact, Integration
from tests.conftest import BACKEND, _empty_postgres
from tests.factories import populate_company

# Values a build draws at random (password salts, tokens and their hashes, generated
# secrets and keys) or from the clock: compared as present or absent, not by value.
RANDOM = {
    ("company", "config_version"),
    ("user", "password_hash"),
    ("connection", "public_key"),
    ("webhook", "secret"),
    ("api_token", "token_hash"), ("api_token", "prefix"),
    ("panel_key", "key_hash"), ("panel_key", "prefix"),
}


def _world() -> dict[str, list[tuple]]:
    """Every table's rows in id order, each value as the app reads it (so encrypted
    columns come back decrypted with this app's key), random and clock values masked."""
    found = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows = db.session.execute(select(table).order_by(*order)).all()
        if not rows:
            continue
        masked = []
        for row in rows:
            masked.append(tuple(
                (value is None) if isinstance(column.type, DateTime)
                or (table.name, column.name) in RANDOM else value
                for column, value in zip(table.columns, row)))
        found[table.name] = masked
    return found


def _empty() -> None:
    if BACKEND == "services":
        _empty_postgres()
        return
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    if db.session.execute(text("SELECT 1 FROM sqlite_master "
                               "WHERE name = 'sqlite_sequence'")).first():
        db.session.execute(text("DELETE FROM sqlite_sequence"))
    db.session.commit()


def _next_contact_id(company_id: int) -> int:
    """The id the next contact takes (its insert rolled back)."""
    contact = Contact(company_id=company_id, name="Próximo", phone="+5511900000001",
                      person_type="PF")
    db.session.add(contact)
    db.session.flush()
    taken = contact.id
    db.session.rollback()
    return taken


def test_SCL_tenants_restored_from_the_snapshot_are_the_world_a_build_makes(app, tenants):
    assert app.extensions.get("test_tenants") is tenants, "the world was not restored"
    company_id = tenants["a"].company_id
    with app.app_context():
        restored = _world()
        secret = db.session.scalar(select(Integration.headers).where(
            Integration.company_id == company_id))
        next_restored = _next_contact_id(company_id)
        _empty()
        built = {"a": populate_company("Alfa Comércio", "a"),
                 "b": populate_company("Beta Serviços", "b")}
        db.session.commit()
        afresh = _world()
        next_built = _next_contact_id(company_id)

    assert built == tenants
    assert list(restored) == list(afresh)
    for name in afresh:
        assert restored[name] == afresh[name], name
    assert "Bearer segredo-a" in secret  # decrypted with the key the build stored it under
    # the restored sequences stand where the build left them
    assert next_restored == next_built == max(tenants[k].ids["contacts"] for k in "ab") + 1


def test_SCL_tenants_restored_twice_are_equal_and_independent(app, tenants):
    """A test that changes its world changes its copy only: the next test restores the
    world as built."""
    assert tenants["a"].labels["contacts"] == "Contato exclusivo A"
    tenants["a"].labels["contacts"] = "mudado por este teste"
    with app.app_context():
        db.session.execute(Contact.__table__.update().values(name="mudado"))
        db.session.commit()


def test_SCL_tenants_a_change_made_by_an_earlier_test_is_gone(app, tenants):
    assert tenants["a"].labels["contacts"] == "Contato exclusivo A"
    with app.app_context():
        names = set(db.session.scalars(select(Contact.name)))
    assert names == {"Contato exclusivo A", "Contato exclusivo B"}
