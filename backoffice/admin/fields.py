"""Relationship fields that refuse ids they cannot find.

Flask-Admin's select fields turn an id missing from their (tenant-scoped) query into
None, and a nullable relationship then saves NULL silently. A forged id of another
company must be a form error instead.
"""
from __future__ import annotations

from flask_admin.contrib.sqla.fields import QuerySelectField, QuerySelectMultipleField
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_babel import gettext as _
from wtforms.validators import ValidationError

_BLANK = (None, "", "__None")


class _StrictSingle:
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self._raw = valuelist[0] if valuelist else None

    def pre_validate(self, form):
        if getattr(self, "_raw", None) not in _BLANK and self.data is None:
            raise ValidationError(_("Escolha inválida: o registro não existe ou não pertence à sua empresa."))
        super().pre_validate(form)


class _StrictMultiple:
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self._raw = [v for v in (valuelist or []) if v not in _BLANK]

    def pre_validate(self, form):
        raw = getattr(self, "_raw", None)
        if raw and len(self.data or []) != len(set(raw)):
            raise ValidationError(_("Escolha inválida: o registro não existe ou não pertence à sua empresa."))
        super().pre_validate(form)


class StrictQuerySelectField(_StrictSingle, QuerySelectField):
    pass


class StrictQuerySelectMultipleField(_StrictMultiple, QuerySelectMultipleField):
    pass


class StrictAjaxSelectField(_StrictSingle, AjaxSelectField):
    pass


class StrictAjaxSelectMultipleField(_StrictMultiple, AjaxSelectMultipleField):
    pass
