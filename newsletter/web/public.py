"""Reader pages: the newsletter page, subscribe, confirm, unsubscribe (RFC 8058), preferences."""

import json

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import archive, consent, media, newsletters, privacy, reader_links, subscribe_limits, tokens
from ..content import render_markdown
from ..errors import InvalidAddress, InvalidInput
from ..extensions import csrf, db
from ..feed import atom_feed
from ..links import external_url
from ..mail.look import look_of
from ..models import utcnow
from ..states import SubscriptionStatus as S
from . import allow_images_from
from .forms import ActionForm, EraseForm, NameForm, SubscribeForm, UnsubscribeForm
from .pacing import answer_no_sooner_than

bp = Blueprint("public", __name__)


def _name_rule() -> str:
    return _("Enter a name on one line, without control characters, up to 200 characters (fewer with accents "
             "or emoji).")


@bp.get("/")
def home():
    return render_template("public/home.html", newsletters=newsletters.public_newsletters())


@bp.get("/n/<slug>")
def newsletter(slug: str):
    item = _newsletter(slug)
    return _newsletter_page(item, SubscribeForm())


@bp.get("/n/<slug>/issues/<int:issue_id>")
def issue(slug: str, issue_id: int):
    item = _newsletter(slug)
    published = archive.published_issue(item, issue_id)
    content = render_markdown(published.body_markdown, media.sizes_in(published.body_markdown))
    allow_images_from(content.image_origins)
    return render_template("public/issue.html", newsletter=item, issue=published, content=content)


@bp.get("/media/<key>")
def media_file(key: str):
    """An uploaded image: named by its content, so it can be cached for a year and never revalidated."""
    found = media.read_media(key)
    if found is None:
        abort(404)
    data, content_type = found
    return Response(data, mimetype=content_type, headers={
        "Cache-Control": "public, max-age=31536000, immutable",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })


@bp.get("/n/<slug>/feed.xml")
def feed(slug: str):
    item = _newsletter(slug)
    return Response(atom_feed(item), mimetype="application/atom+xml")


@bp.post("/n/<slug>/subscribe")
@answer_no_sooner_than("SUBSCRIBE_ANSWER_SECONDS")
def subscribe(slug: str):
    item = _newsletter(slug)
    form = SubscribeForm()
    honeypot = bool(form.website.data)  # a bot filled it: the neutral answer, nothing stored
    assessment = subscribe_limits.assess(request.remote_addr, None if honeypot else
                                         subscribe_limits.address_key(form.email.data), item.id)
    if assessment.needs_proof and not subscribe_limits.proof_accepted(form.puzzle.data, form.proof.data):
        subscribe_limits.count(assessment, refused=True)
        db.session.rollback()
        return _newsletter_page(item, form, busy=True), 429
    subscribe_limits.count(assessment)
    if honeypot:
        return _check_inbox(item)
    if form.validate_on_submit():
        try:
            consent.subscribe(item, form.email.data, form.name.data, ip=request.remote_addr,
                              source=external_url("public.newsletter", slug=item.slug),
                              wording=consent.consent_wording(item))
        except InvalidAddress:
            form.email.errors.append(_("Enter a valid e-mail address, like name@example.org."))
        except InvalidInput:
            form.name.errors.append(_name_rule())
        else:
            db.session.commit()
            return _check_inbox(item)
    db.session.rollback()
    return _newsletter_page(item, form), 400


@bp.get("/confirm/<token>")
def confirm(token: str):
    subscription = _subscription(tokens.CONFIRM, token)
    status = 200 if subscription.status in (S.PENDING, S.CONFIRMED) else 410
    return render_template("public/confirm.html", subscription=subscription, form=ActionForm(), token=token,
                           look=look_of(subscription.newsletter)), status


@bp.post("/confirm/<token>")
def confirm_post(token: str):
    _subscription(tokens.CONFIRM, token)  # sets the page language, answers bad or expired links
    if not ActionForm().validate_on_submit():
        return confirm(token)[0], 400
    subscription = consent.confirm(token, request.remote_addr)
    db.session.commit()
    return render_template("public/confirmed.html", subscription=subscription)


@bp.post("/confirm/<token>/renew")
def renew(token: str):
    if not ActionForm().validate_on_submit():
        return render_template("error.html", code=400), 400
    subscription = consent.renew_confirmation(token)
    g.locale = subscription.newsletter.language
    db.session.commit()
    return _check_inbox(subscription.newsletter)


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    subscription = _subscription(tokens.UNSUBSCRIBE, token)
    return render_template("public/unsubscribe.html", subscription=subscription, form=UnsubscribeForm(),
                           token=token, now=utcnow())


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe_post(token: str):
    """The button of the page and RFC 8058 one-click (body List-Unsubscribe=One-Click): no cookie, no CSRF."""
    subscription = _subscription(tokens.UNSUBSCRIBE, token)
    form = UnsubscribeForm()
    paused = consent.leave(subscription, form.action.data, form.reason.data, form.reason_text.data)
    db.session.commit()
    return render_template("public/unsubscribed.html", subscription=subscription, paused=paused)


@bp.get("/preferences/<token>")
def preferences(token: str):
    subscriber = _subscriber(token)
    return render_template("public/preferences.html", subscriber=subscriber, token=token,
                           action_form=ActionForm(), name_form=NameForm(name=subscriber.name),
                           erase_form=EraseForm())


@bp.post("/preferences/<token>/subscriptions/<int:subscription_id>")
def preferences_action(token: str, subscription_id: int):
    subscriber = _subscriber(token)
    subscription = consent.subscription_of(subscriber, subscription_id)
    if not ActionForm().validate_on_submit():
        return preferences(token), 400
    consent.apply_reader_action(subscription, request.form.get("action", ""))
    db.session.commit()
    flash(_("Your choice is saved."))
    return redirect(url_for(".preferences", token=token))


@bp.post("/preferences/<token>/name")
def preferences_name(token: str):
    subscriber = _subscriber(token)
    form = NameForm()
    if form.validate_on_submit():
        try:
            consent.rename(subscriber, form.name.data)
        except InvalidInput:
            form.name.errors.append(_name_rule())
        else:
            db.session.commit()
            flash(_("Your name is saved."))
            return redirect(url_for(".preferences", token=token))
    db.session.rollback()
    return render_template("public/preferences.html", subscriber=subscriber, token=token,
                           action_form=ActionForm(), name_form=form, erase_form=EraseForm()), 400


@bp.post("/preferences/<token>/renew")
def preferences_renew(token: str):
    """An expired preferences link: a fresh one goes to the address (the page says the same whoever asks)."""
    if not ActionForm().validate_on_submit():
        return render_template("error.html", code=400), 400
    subscriber = reader_links.send_fresh_preferences_link(token)
    if subscriber is not None:
        g.locale = consent.language_of_subscriber(subscriber)
    db.session.commit()
    return render_template("public/link_sent.html")


@bp.post("/preferences/<token>/download")
def preferences_download(token: str):
    """Ask for one's data: the link comes by mail (a forwarded issue's footer link must not hand it over)."""
    subscriber = _subscriber(token)
    if not ActionForm().validate_on_submit():
        return preferences(token), 400
    reader_links.ask_for_download(subscriber)
    db.session.commit()
    return render_template("public/link_sent.html")


@bp.get("/download/<token>")
def download(token: str):
    """The mailed link: everything held about the reader, as JSON."""
    subscriber = _reader_link(tokens.DOWNLOAD, token)
    body = json.dumps(privacy.personal_data(subscriber), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-newsletter-data.json"',
                             "Cache-Control": "no-store"})


@bp.post("/preferences/<token>/erase")
def preferences_erase(token: str):
    """Ask to be erased: the box ticked here, then the mailed link confirms."""
    subscriber = _subscriber(token)
    form = EraseForm()
    if not (form.validate_on_submit() and form.sure.data):
        form.sure.errors.append(_("Tick the box to confirm that everything should be erased."))
        return render_template("public/preferences.html", subscriber=subscriber, token=token,
                               action_form=ActionForm(), name_form=NameForm(name=subscriber.name),
                               erase_form=form), 400
    reader_links.ask_for_erasure(subscriber)
    db.session.commit()
    return render_template("public/link_sent.html")


@bp.route("/erase/<token>", methods=["GET", "POST"])
def erase(token: str):
    """The mailed erasure link: a page with one button (a GET, as mail scanners send, changes nothing)."""
    subscriber = _reader_link(tokens.ERASE, token)
    form = ActionForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("public/erase_confirm.html", token=token, form=form), (
            200 if request.method == "GET" else 400)
    consent.erase(subscriber)
    db.session.commit()
    return render_template("public/erased.html")


def _newsletter(slug: str):
    item = newsletters.newsletter_by_slug(slug)  # NotFound, a 404 page, for junk and unknown slugs alike
    g.locale = item.language
    return item


def _newsletter_page(item, form: SubscribeForm, busy: bool = False):
    return render_template("public/newsletter.html", newsletter=item, form=form, look=look_of(item),
                           wording=consent.consent_wording(item), issues=archive.published_issues(item, 20),
                           puzzle=subscribe_limits.new_puzzle() if busy or subscribe_limits.puzzle_needed(
                               request.remote_addr, item.id) else "", busy=busy)


def _check_inbox(item):
    return render_template("public/check_inbox.html", newsletter=item)


def _subscription(purpose: str, token: str):
    """The token's subscription, with the page language set; bad and expired links become pages."""
    try:
        subscription = consent.subscription_from_token(purpose, token)
    except tokens.TokenExpired as expired:
        g.locale = consent.language_of_subscription(expired.record_id)
        raise LinkExpired(token) from None
    g.locale = subscription.newsletter.language
    return subscription


def _subscriber(token: str):
    try:
        subscriber = consent.subscriber_from_token(token)
    except tokens.TokenExpired as expired:
        raise PreferencesLinkExpired(token) from expired
    g.locale = consent.language_of_subscriber(subscriber)
    return subscriber


def _reader_link(purpose: str, token: str):
    """The person a mailed download or erasure link names; an expired one is a page saying to ask again."""
    try:
        subscriber = consent.subscriber_from_token(token, purpose)
    except tokens.TokenExpired:
        raise consent.LinkNoLongerValid(_("This link has expired: links to your data work for a day. Ask again "
                                          "from the link to your subscriptions.")) from None
    g.locale = consent.language_of_subscriber(subscriber)
    return subscriber


class LinkExpired(Exception):
    """An authentic confirm link past CONFIRM_TOKEN_MAX_AGE: answered by a page offering a fresh mail."""

    def __init__(self, token: str):
        super().__init__(token)
        self.token = token


class PreferencesLinkExpired(Exception):
    """An authentic preferences link past PREFERENCES_LINK_MAX_AGE: a page offering a fresh one by mail."""

    def __init__(self, token: str):
        super().__init__(token)
        self.token = token


@bp.app_errorhandler(PreferencesLinkExpired)
def preferences_link_expired(error: PreferencesLinkExpired):
    return render_template("public/preferences_expired.html", token=error.token, form=ActionForm()), 410


@bp.app_errorhandler(LinkExpired)
def link_expired(error: LinkExpired):
    return render_template("public/expired.html", token=error.token, form=ActionForm()), 410
