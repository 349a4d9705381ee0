"""The first page after login."""

from flask import render_template
from flask_login import current_user

from ... import newsletters
from . import admin


@admin.get("/")
def index():
    return render_template("admin/index.html", newsletters=newsletters.visible_to(current_user))
