"""The logo and avatar fields of the Empresa and Usuários forms (UX-5).

The file field and its "remover" box are not columns: they never write the model
themselves (populate_obj does nothing); the mixin reads the upload after the screen's
own rules ran, so a refused image (RuleError, shown on the same form with what was
typed) rolls everything back and keeps the previous image.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, FileField

from ..lib import after_commit
from ..services import audit, images


class ImageField(FileField):
    def populate_obj(self, obj, name):
        """The mixin stores the file; the model has no column of this name."""


class RemoveImageField(BooleanField):
    def populate_obj(self, obj, name):
        """Read by the mixin."""


def logo_fields() -> dict:
    return {
        "logo": ImageField(_l("Logo"), render_kw={"accept": "image/png,image/jpeg,image/webp,image/gif"},
                           description=_l("PNG, JPEG ou WebP de até %(size)s; ajustado para caber "
                                          "em 400 × 120 pixels. Aparece no login, no painel e no "
                                          "Atendimento.", size="2 MB")),
        "remove_logo": RemoveImageField(_l("Remover logo")),
    }


def avatar_fields() -> dict:
    return {
        "avatar": ImageField(_l("Foto"), render_kw={"accept": "image/png,image/jpeg,image/webp,image/gif"},
                             description=_l("PNG, JPEG ou WebP de até %(size)s; recortada em "
                                            "quadrado. Sem foto, aparecem as iniciais do nome.",
                                            size="1 MB")),
        "remove_avatar": RemoveImageField(_l("Remover foto")),
    }


class ImageUploadMixin:
    """Mix in before the base view; `image_kind` is "logo" (the Company row) or "avatar"
    (a User row)."""

    image_kind = "logo"

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        upload = getattr(form, self.image_kind, None)
        remove = getattr(form, "remove_" + self.image_kind, None)
        read = images.read_logo if self.image_kind == "logo" else images.read_avatar
        store = images.set_logo if self.image_kind == "logo" else images.set_avatar
        before = getattr(model, self.image_kind + "_key")
        picture = read(upload.data) if upload is not None else None
        if picture is not None:
            store(model, picture)
        elif remove is not None and remove.data and before:
            store(model, None)
        after = getattr(model, self.image_kind + "_key")
        if self.audited and after != before:
            # The base view recorded the form's other fields before the file was stored (a
            # new company needs its id for the file's folder): the picture's change is an
            # entry of its own, under the form field's name and label (the stored file's
            # key before and after).
            audit.record(current_user, "update", model, {self.image_kind: [before, after]},
                         self.audit_company_id(model))

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        # Flask-Admin committed with a plain session.commit(): the replaced file, queued
        # with after_commit.later, is deleted now.
        after_commit.commit()

    def on_model_delete(self, model):
        super().on_model_delete(model)
        company_id = model.id if self.image_kind == "logo" else model.company_id
        images.discard_after_commit(company_id, self.image_kind,
                                    getattr(model, self.image_kind + "_key"))

    def after_model_delete(self, model):
        super().after_model_delete(model)
        after_commit.commit()  # the deleted row's file goes too
