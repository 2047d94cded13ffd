"""Loads the demo company described in seed/demo.json (first run of `make run`)."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from .extensions import db
from .models import Company, PermissionGroup, Plan, User
from .services import saas

SEED_FILE = Path(__file__).resolve().parent.parent / "seed" / "demo.json"


def load_demo(force: bool = False, path: Path = SEED_FILE) -> bool:
    if not force and db.session.scalar(select(func.count(Company.id))):
        return False
    data = json.loads(path.read_text(encoding="utf-8"))

    su = data["superuser"]
    if not saas.email_taken(su["email"]):
        root = User(name=su["name"], email=su["email"], is_superuser=True)
        root.set_password(su["password"])
        db.session.add(root)

    plans = {}
    for p in data["plans"]:
        plans[p["name"]] = db.session.scalar(select(Plan).where(Plan.name == p["name"])) or Plan(**p)
        db.session.add(plans[p["name"]])

    c = dict(data["company"])
    admin = c.pop("admin")
    company, _ = saas.create_company(plan=plans[c.pop("plan")], admin_name=admin["name"],
                                     admin_email=admin["email"],
                                     admin_password=admin["password"], **c)
    for g in data["groups"]:
        db.session.add(PermissionGroup(company=company, **g))
    db.session.flush()
    groups = {g.name: g for g in db.session.scalars(
        select(PermissionGroup).where(PermissionGroup.company_id == company.id))}
    for u in data["users"]:
        user = User(company=company, name=u["name"], email=u["email"], group=groups[u["group"]])
        user.set_password(u["password"])
        db.session.add(user)
    db.session.commit()
    return True
