"""Sending domains: add one, copy its DNS records, and check them (the DNS doctor)."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ... import sending_domains
from ...errors import DomainError
from ...extensions import db
from ..forms import ActionForm
from . import admin
from .forms import single_line


class DomainForm(FlaskForm):
    name = StringField(_l("Your domain (or a subdomain of it, like news.your-practice.fr)"), validators=[
        DataRequired(_l("Enter a domain name.")), single_line, Length(max=253)])
    selector = StringField(_l("DKIM selector (optional)"), validators=[Optional(), single_line, Length(max=63)])
    ed25519 = BooleanField(_l("Also sign with an Ed25519 key (a second, shorter DKIM record)"))


@admin.get("/domains")
def domains():
    return _list_page(DomainForm())


@admin.post("/domains")
def domain_add():
    form = DomainForm()
    if form.validate_on_submit():
        try:
            item = sending_domains.add_domain(form.name.data, current_user._get_current_object(),
                                              selector=(form.selector.data or "").strip(), ed25519=form.ed25519.data)
        except DomainError as error:
            db.session.rollback()
            form.name.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("%(name)s is added. Publish its records below, then check them.", name=item.name))
            return redirect(url_for(".domain_page", name=item.name))
    return _list_page(form, status=400)


@admin.get("/domains/<name>")
def domain_page(name: str):
    item = sending_domains.domain_of(current_user, name)
    return render_template("admin/domain.html", domain=item, records=sending_domains.records_for(item),
                           zone=sending_domains.zone_of(item),
                           findings=sending_domains.last_findings(item), action_form=ActionForm())


@admin.post("/domains/<name>/check")
def domain_check(name: str):
    item = sending_domains.domain_of(current_user, name)
    if ActionForm().validate_on_submit():
        sending_domains.check_domain(item)
        db.session.commit()
        flash(_("%(name)s passes its check: mail From it is signed and aligned.", name=item.name) if item.check_passed
              else _("%(name)s does not pass yet: see below what to fix.", name=item.name))
    return redirect(url_for(".domain_page", name=item.name))


def _list_page(form: DomainForm, status: int = 200):
    return render_template("admin/domains.html", form=form,
                           domains=sending_domains.domains_visible_to(current_user)), status
