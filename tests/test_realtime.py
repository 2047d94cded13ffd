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
