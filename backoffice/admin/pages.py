"""Plain pages: Sobre (PLT-6) and Minha conta (language, password)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import PasswordField, SelectField
from wtforms.validators import Length, Optional

from .. import version
from ..extensions import db
from ..models import User
from ..models.company import MODULES
from ..tenancy import current_company
from .base import SecureView
from .users import USER_LANGUAGES


class AboutView(SecureView):
    @expose("/")
    def index(self):
        company = None if current_user.is_superuser else current_company._get_current_object()
        plan = company.plan if company else None
        users = None
        if company is not None:
            users = db.session.scalar(select(func.count(User.id)).where(
                User.company_id == company.id, User.active.is_(True)))
        return self.render("admin/about.html", version=version.VERSION,
                           build_date=version.build_date(), company=company, plan=plan,
                           modules=MODULES, users=users)


class AccountForm(FlaskForm):
    language = SelectField(_l("Idioma da interface"), choices=USER_LANGUAGES)
    current_password = PasswordField(_l("Senha atual"), validators=[Optional()])
    new_password = PasswordField(_l("Nova senha"), validators=[
        Optional(), Length(min=8, max=128, message=_l("A senha deve ter de 8 a 128 caracteres."))])


class AccountView(SecureView):
    @expose("/", methods=["GET", "POST"])
    def index(self):
        form = AccountForm(language=current_user.language or "")
        if request.method == "POST" and form.validate_on_submit():
            user = db.session.get(User, current_user.id)
            if form.new_password.data:
                if not user.check_password(form.current_password.data or ""):
                    form.current_password.errors.append(_("Senha atual incorreta."))
                    return self.render("admin/account.html", form=form)
                user.set_password(form.new_password.data)
            user.language = form.language.data or None
            db.session.commit()
            flash(_("Preferências salvas."), "success")
            return redirect(url_for(".index"))
        return self.render("admin/account.html", form=form)
