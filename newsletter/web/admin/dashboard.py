"""The first page after login: your newsletters (all of them for an admin) with their readers."""

from flask import render_template
from flask_login import current_user

from ... import newsletters, readers
from . import admin


@admin.get("/")
def index():
    items = newsletters.visible_to(current_user)
    return render_template("admin/index.html", newsletters=items, confirmed=readers.confirmed_counts(items))
