"""Admin views for the e-mail outbox: every mail with its status, one mail, and resending."""

from flask import flash, redirect, render_template, request, url_for

from checkout import mail
from checkout.admin.common import actor, bp, one_page, require_action_form
from checkout.admin.forms import ActionForm
from checkout.enums import MailStatus
from checkout.extensions import db
from checkout.records import Mail

MAILS_PER_PAGE = 50


@bp.get("/mail")
def mails():
    """The outbox, newest first; ?status= shows one status only."""
    asked = request.args.get("status") or None
    valid = asked is None or asked in {status.value for status in MailStatus}
    status = MailStatus(asked) if valid and asked else None
    page, args = one_page(mail.select_mails(status), MAILS_PER_PAGE, empty=not valid)
    page_html = render_template(
        "admin/mails.html", page=page, args=args, statuses=list(MailStatus), status=asked
    )
    return page_html, (200 if valid else 422)


@bp.get("/mail/<mail_id>")
def mail_detail(mail_id: str):
    """One mail: to whom, its status and attempts, and its text."""
    row = db.get_or_404(Mail, mail_id)
    return render_template("admin/mail.html", mail=row, action_form=ActionForm())


@bp.post("/mail/<mail_id>/resend")
def resend_mail(mail_id: str):
    """Send a mail again, whatever became of it."""
    row = db.get_or_404(Mail, mail_id)
    require_action_form()
    if mail.resend(row, actor=actor()):
        flash("Queued to be sent again.", "success")
    else:
        flash("It is being sent right now; nothing more to do.", "success")
    return redirect(url_for("admin.mail_detail", mail_id=row.id))
