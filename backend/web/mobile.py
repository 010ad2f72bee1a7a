"""Phone pages, without login: a ticket's live position, a case's progress, and
booking an appointment.

Privacy: the ticket and case pages are reached only through the unguessable
tokens printed as QR codes (`tickets.public_token`, `cases.public_token`), and
show nothing personal — the ticket page no name at all, the case page the
masked applicant name only (as the public lookup does). A booking is managed
through a signed link (it carries the appointment id, signed with the app's
secret), so the appointment table needs no extra token column. Booking is
rate-limited per client address.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.models import (
    Appointment,
    AppointmentState,
    Case,
    Hall,
    Matter,
    MatterVersion,
    QueueCategory,
    Ticket,
)
from backend.models.sms import TicketContact
from backend.services import appointments as booking_service
from backend.services import cases as case_service
from backend.services import queue as queue_service
from backend.services import sms as sms_service
from backend.services import turn_notice
from backend.services.hall_catalog import hall_catalog, matter_category
from backend.web.layout import page_errors, use_hall_zone
from backend.web.live import change_stream, sse_response
from backend.web.qr import qr_svg
from hallbus.localtime import format_local

blueprint = Blueprint("mobile", __name__, url_prefix="/m")
page_errors(blueprint, fallback_endpoint="mobile.book")

DEFAULT_HALL = "BH"


def _ext() -> Any:
    return current_app.extensions["hallkit"]


def _now() -> datetime:
    now: datetime = _ext().clock()
    return now


def _ticket_or_404(session: Session, token: str) -> Ticket:
    ticket = session.execute(
        select(Ticket).where(Ticket.public_token == token)
    ).scalar_one_or_none()
    if ticket is None:
        abort(404)
    return ticket


def ticket_snapshot(token: str) -> dict[str, Any]:
    with _ext().db.reading() as session:
        ticket = _ticket_or_404(session, token)
        view = queue_service.view_of(session, ticket, with_position=True)
        hall = session.get(Hall, ticket.hall_id)
        category = session.get(QueueCategory, ticket.category_id)
        assert category is not None
        near = turn_notice.is_near(category, view.state, view.ahead)
        contact = session.get(TicketContact, ticket.id)
    return {
        # The hall's wall-clock time, whatever zone the phone or the server is in.
        "issued": format_local(view.issued_at, hall.timezone if hall else None),
        "number": view.number,
        "category_name": view.category_name,
        "state": view.state,
        "ahead": view.ahead,
        "wait": view.estimated_wait_minutes,
        "window": view.window,
        "recall": view.recall_count,
        "area": view.area,
        "floor": view.floor,
        "priority": view.priority_kind is not None,
        # 到号提醒: the banner (and a browser notification, once) at N or fewer ahead.
        "near": near,
        "reminder_at": category.turn_near_ahead,
        "sms_last4": contact.phone_last4 if contact is not None else None,
    }


def _sms_reminders_on() -> bool:
    """Offer the SMS reminder only when it can be sent (a gateway with the template)."""
    return sms_service.off_reason(_ext().sms_gateway, sms_service.TURN_NEAR) == ""


@blueprint.get("/t/<token>")
def ticket(token: str) -> Any:
    snapshot = ticket_snapshot(token)
    template = "mobile/_ticket.html" if request.args.get("fragment") else "mobile/ticket.html"
    return render_template(template, t=snapshot, token=token, sms_on=_sms_reminders_on())


@blueprint.post("/t/<token>/sms")
def ticket_sms(token: str) -> Any:
    """到号短信提醒: the visitor leaves a mobile number for the ticket they follow."""
    extension = _ext()
    extension.lookup_limiter.check(f"ticket-sms|{request.remote_addr or '-'}")
    if not _sms_reminders_on():
        flash(_("短信提醒暂未开通"), "error")
        return redirect(url_for("mobile.ticket", token=token))
    try:
        with extension.db.writing() as session:
            ticket = _ticket_or_404(session, token)
            if ticket.state.value != "waiting":
                flash(_("该号票已叫号或已失效，无需提醒"), "error")
            else:
                contact = turn_notice.leave_contact(
                    session,
                    ticket_id=ticket.id,
                    phone=request.form.get("phone", ""),
                    protector=extension.protector,
                )
                if contact.armed:
                    flash(_("已登记，快到您时将发送短信提醒"), "success")
                else:  # already within N: the message would come after the call
                    flash(_("马上就到您了，不再发送短信，请留意叫号"), "success")
    except DomainError as error:
        flash(error.message, "error")
    return redirect(url_for("mobile.ticket", token=token))


@blueprint.get("/t/<token>/events")
def ticket_events(token: str) -> Any:
    ticket_snapshot(token)  # 404 for an unknown token before the stream starts
    return sse_response(change_stream(lambda: ticket_snapshot(token)))


@blueprint.get("/c/<token>")
def case_progress(token: str) -> Any:
    with _ext().db.reading() as session:
        case = session.execute(select(Case).where(Case.public_token == token)).scalar_one_or_none()
        if case is None:
            abort(404)
        view = case_service.public_view(session, case)
        hall = session.get(Hall, case.hall_id)
        message, arguments = case_service.next_step_text(case)
    use_hall_zone(hall.timezone if hall else None)  # the timeline on the hall's clock
    if "kind" in arguments:
        arguments = {**arguments, "kind": _(arguments["kind"])}
    next_step = _(message, **arguments) if arguments else _(message)
    return render_template("mobile/case.html", view=view, next_step=next_step)


# ---------------------------------------------------------------- appointments


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="hallkit.appointment")


def manage_token(appointment_id: int) -> str:
    return str(_signer().dumps({"a": appointment_id}))


def _appointment_id(signed: str) -> int:
    try:
        data = _signer().loads(signed)
    except BadSignature:
        abort(404)
    return int(data["a"])


def _hall(session: Session) -> Hall:
    code = request.args.get("hall") or request.form.get("hall") or DEFAULT_HALL
    hall = session.execute(select(Hall).where(Hall.code == code)).scalar_one_or_none()
    if hall is None:
        abort(404)
    return hall


def _bookable_matters(session: Session, hall: Hall) -> list[MatterVersion]:
    """The matters this hall handles (backend.services.hall_catalog), by category."""
    handled = hall_catalog(session, hall.id).categories
    versions = session.execute(
        select(MatterVersion)
        .join(Matter, Matter.current_version_id == MatterVersion.id)
        .where(Matter.active.is_(True), MatterVersion.code.in_(handled or {""}))
    ).scalars()
    return sorted(versions, key=lambda version: (handled[version.code], version.code))


@blueprint.route("/book", methods=["GET", "POST"])
def book() -> Any:
    extension = _ext()
    now = _now()
    form = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        extension.lookup_limiter.check(f"book|{request.remote_addr or '-'}")
        try:
            with extension.db.writing() as session:
                hall = _hall(session)
                day = date.fromisoformat(form.get("day", ""))
                slot = time.fromisoformat(form.get("slot", ""))
                appointment = booking_service.book(
                    session,
                    hall_id=hall.id,
                    matter_code=form.get("matter", ""),
                    day=day,
                    slot_start=slot,
                    name=form.get("name", ""),
                    id_number=form.get("id_number", ""),
                    phone=form.get("phone", ""),
                    protector=extension.protector,
                    now=now,
                )
                appointment_id = appointment.id
        except ValueError:
            flash(_("请选择日期和时段"), "error")
        except DomainError as error:
            flash(error.message, "error")
        else:
            return redirect(url_for("mobile.booking", signed=manage_token(appointment_id)))
    with extension.db.reading() as session:
        hall = _hall(session)
        matters = _bookable_matters(session, hall)
        today = queue_service.local_day(now, hall.timezone)
        days = booking_service.bookable_days(session, today)
        chosen = next((m for m in matters if m.code == form.get("matter")), None)
        chosen_day = next((d for d in days if d.isoformat() == form.get("day")), None)
        slots: list[booking_service.Slot] = []
        if chosen is not None and chosen_day is not None:
            category = session.execute(
                select(QueueCategory).where(
                    QueueCategory.hall_id == hall.id,
                    QueueCategory.prefix == matter_category(session, hall.id, chosen),
                )
            ).scalar_one()
            slots = booking_service.slots_for(session, category.id, chosen_day)
    return render_template(
        "mobile/book.html",
        hall=hall,
        matters=matters,
        days=days,
        chosen=chosen,
        chosen_day=chosen_day,
        slots=slots,
        form=form,
        rules=booking_service.DEFAULT_RULES,
    )


def _booking_context(session: Session, appointment: Appointment) -> dict[str, Any]:
    hall = session.get(Hall, appointment.hall_id)
    version = (
        session.get(MatterVersion, appointment.matter_version_id)
        if appointment.matter_version_id
        else None
    )
    assert hall is not None
    use_hall_zone(hall.timezone)  # the cancel deadline on the hall's clock
    deadline = booking_service.cancel_deadline(appointment, hall)
    return {
        "appointment": appointment,
        "hall": hall,
        "matter": version,
        "cancel_deadline": deadline,
        "can_cancel": appointment.state is AppointmentState.BOOKED and _now() <= deadline,
        "qr": qr_svg(appointment.code, box_size=8),
    }


@blueprint.get("/book/<signed>")
def booking(signed: str) -> Any:
    appointment_id = _appointment_id(signed)
    with _ext().db.reading() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            abort(404)
        context = _booking_context(session, appointment)
    return render_template("mobile/booked.html", signed=signed, **context)


@blueprint.post("/book/<signed>/cancel")
def cancel_booking(signed: str) -> Any:
    appointment_id = _appointment_id(signed)
    try:
        with _ext().db.writing() as session:
            booking_service.cancel(session, appointment_id=appointment_id, now=_now())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("预约已取消"), "success")
    return redirect(url_for("mobile.booking", signed=signed))
