"""The development outbox: mails written as .eml files, readable by admins."""

from flask import current_app, render_template, request

from ...mail.outbox import list_outbox, outbox_folder, read_outbox
from . import admin
from .access import admin_required
from .frames import mail_html_response

PAGE_SIZE = 50


@admin.get("/outbox")
@admin_required
def outbox():
    page = max(request.args.get("page", 1, type=int), 1)
    entries, total = list_outbox(outbox_folder(current_app.instance_path), (page - 1) * PAGE_SIZE, PAGE_SIZE)
    return render_template("admin/outbox.html", entries=entries, total=total, page=page, page_size=PAGE_SIZE,
                           backend=current_app.config["MAIL_BACKEND"])


@admin.get("/outbox/<name>")
@admin_required
def outbox_message(name: str):
    message = read_outbox(outbox_folder(current_app.instance_path), name)
    return render_template("admin/outbox_message.html", message=message)


@admin.get("/outbox/<name>/html")
@admin_required
def outbox_message_html(name: str):
    message = read_outbox(outbox_folder(current_app.instance_path), name)
    return mail_html_response(message.html or "")
