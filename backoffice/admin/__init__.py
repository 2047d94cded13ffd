"""Builds the admin panel inside create_app (never at import time: one Admin per app)."""
from __future__ import annotations

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from ..i18n import TRANSLATIONS
from ..models import Holiday, Period
from ..models import AuditLog, Company, PermissionGroup, Plan, Reason, Tag, User
from .audit import AuditLogView
from .base import HomeView
from .catalog import ReasonView, TagView
from .company import CompanyView
from .pages import AboutView, AccountView
from .saas import PlanView, SaasCompanyView
from .schedule import HolidayView, PeriodView
from .users import PermissionGroupView, UserView

CAT_ADMIN = _l("Administração")
CAT_SAAS = _l("SaaS")


def init_admin(app) -> Admin:
    admin = Admin(
        app,
        name="Atende",
        url="/admin",
        index_view=HomeView(name=_l("Início"), url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/atende_base.html"),
        # our admin-domain catalogue fills what Flask-Admin's pt_BR .mo lacks
        translations_path=str(TRANSLATIONS),
    )
    admin.add_view(CompanyView(Company, name=_l("Empresa"), endpoint="company",
                               category=_l("Configurações")))
    admin.add_view(TagView(Tag, name=_l("Etiquetas"), endpoint="tags", category=_l("Configurações")))
    admin.add_view(ReasonView(Reason, name=_l("Motivos de atendimento"), endpoint="reasons",
                              category=_l("Configurações")))
    admin.add_view(PeriodView(Period, name=_l("Períodos de atendimento"), endpoint="periods",
                              category=_l("Configurações")))
    admin.add_view(HolidayView(Holiday, name=_l("Feriados"), endpoint="holidays",
                               category=_l("Configurações")))
    admin.add_view(UserView(User, name=_l("Usuários"), endpoint="users", category=CAT_ADMIN))
    admin.add_view(PermissionGroupView(PermissionGroup, name=_l("Permissões"), endpoint="groups",
                                       category=CAT_ADMIN))
    admin.add_view(AuditLogView(AuditLog, name=_l("Auditoria"), endpoint="audit",
                                category=CAT_ADMIN))
    admin.add_view(SaasCompanyView(Company, name=_l("Empresas"), endpoint="saas_companies",
                                   category=CAT_SAAS))
    admin.add_view(PlanView(Plan, name=_l("Planos"), endpoint="plans", category=CAT_SAAS))
    admin.add_view(AccountView(name=_l("Minha conta"), endpoint="account"))
    admin.add_view(AboutView(name=_l("Sobre"), endpoint="about"))
    return admin
