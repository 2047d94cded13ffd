"""Plain pages: Sobre (PLT-6; UX-7: the modules this version has, with the plan's status)
and Minha conta (language, password; open sessions, SEC-4)."""
from __future__ import annotations

from datetime import date

from flask import flash, redirect, request, session, url_for
from flask_admin import expose
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import PasswordField, SelectField
from wtforms.validators import Length, Optional

from .. import version
from ..extensions import db
from ..models import User
from ..services import access, as_id, modules, sessions
from ..tenancy import current_company
from .base import SecureView, local_datetime
from .users import USER_LANGUAGES


def _day(text: str) -> str:
    """An ISO day (the build date) as the user's locale writes it (UX-4)."""
    try:
        return format_date(date.fromisoformat(text), "short")
    except ValueError:
        return text


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
                           build_date=_day(version.build_date()), company=company, plan=plan,
                           modules=modules.catalogue(company), users=users)


class AccountForm(FlaskForm):
    language = SelectField(_l("Idioma da interface"), choices=USER_LANGUAGES)
    current_password = PasswordField(_l("Senha atual"), validators=[Optional()])
    new_password = PasswordField(_l("Nova senha"), validators=[
        Optional(), Length(min=8, max=128, message=_l("A senha deve ter de 8 a 128 caracteres."))])


class AccountView(SecureView):
    def _page(self, form):
        return self.render("admin/account.html", form=form,
                           password_due=current_user.must_change_password,
                           open_sessions=sessions.list_for(current_user.id),
                           this_session=sessions.current_id(), describe=sessions.describe,
                           when=local_datetime)

    @expose("/", methods=["GET", "POST"])
    def index(self):
        form = AccountForm(language=current_user.language or "")
        if request.method == "POST" and form.validate_on_submit():
            user = db.session.get(User, current_user.id)
            was_due = user.must_change_password
            if user.must_change_password and not form.new_password.data:
                # SEC-1: the password someone else set must be replaced first
                form.new_password.errors.append(_("Defina uma nova senha para continuar."))
                return self._page(form)
            if form.new_password.data:
                if not user.check_password(form.current_password.data or ""):
                    form.current_password.errors.append(_("Senha atual incorreta."))
                    return self._page(form)
                if user.must_change_password and user.check_password(form.new_password.data):
                    form.new_password.errors.append(_("A nova senha deve ser diferente da atual."))
                    return self._page(form)
                # SEC-4: the other sessions of the user end with this commit; this one stays
                user.set_password(form.new_password.data)
                user.must_change_password = False
            user.language = form.language.data or None
            db.session.commit()
            flash(_("Preferências salvas."), "success")
            # the password due at login is set: on to where the user works (UX-3)
            return redirect(access.home_url(user) if was_due else url_for(".index"))
        return self._page(form)

    @expose("/sessions/end", methods=["POST"])
    def end_session(self):
        """"Encerrar" one of the user's sessions (another device); an id that is not one
        of theirs ends nothing."""
        ended = sessions.end(current_user.id, request.form.get("id"))
        db.session.commit()
        if ended and sessions.current_id() is not None \
                and sessions.current_id() == as_id(request.form.get("id")):
            return self._logged_out(_("Você saiu do sistema."))
        flash(_("Sessão encerrada.") if ended else _("Sessão não encontrada."),
              "success" if ended else "error")
        return redirect(url_for(".index"))

    @expose("/logout-all", methods=["POST"])
    def logout_all(self):
        """"Sair de todos os dispositivos": every session of the user, this one too."""
        sessions.end_all(current_user)
        db.session.commit()  # their sockets are disconnected right after
        return self._logged_out(_("Você saiu de todos os dispositivos."))

    @expose("/avatar", methods=["POST"])
    def avatar(self):
        """UX-5: the user's own picture: a new one (checked and resized by
        services.images) or "Remover foto"; a refused file keeps the previous picture."""
        from ..lib import after_commit
        from ..services import RuleError, images

        user = db.session.get(User, current_user.id)
        try:
            if request.form.get("remove"):
                images.set_avatar(user, None)
                message = _("Foto removida.")
            else:
                picture = images.read_avatar(request.files.get("avatar"))
                if picture is None:
                    raise RuleError(_("Escolha uma imagem para enviar."))
                images.set_avatar(user, picture)
                message = _("Foto atualizada.")
        except RuleError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        after_commit.commit()  # then the replaced file is deleted
        flash(message, "success")
        return redirect(url_for(".index"))

    def _logged_out(self, message: str):
        logout_user()
        session.clear()
        flash(message, "info")
        return redirect(url_for("auth.login"))
