"""RTM-1 / PLT-1 for sockets: rooms come from the server-side identity only."""
from __future__ import annotations


from backoffice.realtime import company_room, emit_to_company, rooms_for, user_room


def test_RTM_1_anonymous_socket_is_refused(socket_for):
    assert not socket_for().is_connected()


def test_RTM_1_user_joins_exactly_the_rooms_of_their_identity(app, tenants, socket_for):
    sc = socket_for(tenants["a"].admin_email)
    assert sc.is_connected()
    hello = [e for e in sc.get_received() if e["name"] == "hello"]
    cid = tenants["a"].company_id
    # the admin holds every right, inbox.supervise included, and is in no department
    assert hello[0]["args"][0]["rooms"] == [company_room(cid), user_room(tenants["a"].admin_id),
                                            f"supervise:{cid}", f"unrouted:{cid}"]


def test_RTM_1_company_events_never_reach_another_company(app, tenants, socket_for):
    a = socket_for(tenants["a"].admin_email)
    b = socket_for(tenants["b"].admin_email)
    a.get_received(), b.get_received()
    with app.app_context():
        emit_to_company(tenants["a"].company_id, "ticket.created", {"id": 1})
    assert [e["name"] for e in a.get_received()] == ["ticket.created"]
    assert b.get_received() == []


def test_RTM_1_client_cannot_pick_a_room(app, tenants, socket_for):
    """A forged room name in the connect payload or an event joins nothing."""
    b = socket_for(tenants["b"].admin_email, auth={"room": company_room(tenants["a"].company_id)})
    b.emit("join", {"room": company_room(tenants["a"].company_id)})
    b.get_received()
    with app.app_context():
        emit_to_company(tenants["a"].company_id, "ticket.created", {"id": 1})
    assert b.get_received() == []


def test_RTM_1_rooms_registry_is_derived_from_user(app, tenants):
    from backoffice.extensions import db
    from backoffice.models import User

    with app.app_context():
        user = db.session.get(User, tenants["b"].admin_id)
        cid = user.company_id
        assert rooms_for(user) == [company_room(cid), user_room(user.id), f"supervise:{cid}",
                                   f"unrouted:{cid}"]


def test_RTM_1_every_room_of_every_user_belongs_to_their_company(app, tenants):
    """Generic over what rooms_for can give: every room of every user of both companies
    (an admin, a department's responsible, a plain agent) names that user's company or one
    of its rows; a room kind the map below does not know fails, so a new kind of room
    cannot ship unchecked (PAU-4's manage:<department> included)."""
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models import Company, Department, User
    from backoffice.permissions import AGENT_RIGHTS
    from tests.factories import gen_department, gen_group, gen_user

    owners = {  # room prefix -> the company of the id it carries
        "company": lambda i: db.session.get(Company, i).id,
        "user": lambda i: db.session.get(User, i).company_id,
        "dept": lambda i: db.session.get(Department, i).company_id,
        "manage": lambda i: db.session.get(Department, i).company_id,
        "supervise": lambda i: i,
        "unrouted": lambda i: i,
    }
    with app.app_context():
        for key in ("a", "b"):
            company = db.session.get(Company, tenants[key].company_id)
            group = gen_group(company, f"Atendentes {key}", list(AGENT_RIGHTS))
            boss = gen_user(company, f"rtm-resp-{key}@example.com", group)
            agent = gen_user(company, f"rtm-agente-{key}@example.com", group)
            gen_department(company, f"Fila {key}", members=[(boss, True, True), (agent, True, False)])
        db.session.commit()
        seen = set()
        for user in db.session.scalars(select(User).where(User.company_id.is_not(None))):
            for room in rooms_for(user):
                kind, _, raw = room.partition(":")
                seen.add(kind)
                assert kind in owners, f"room kind {kind!r} has no owner check here"
                assert owners[kind](int(raw)) == user.company_id, (user.email, room)
        assert {"company", "user", "dept", "manage", "supervise", "unrouted"} <= seen
