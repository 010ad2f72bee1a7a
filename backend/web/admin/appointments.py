"""预约: the bookings of a day, and cancelling one with a reason.

The phone page's own cancel stops 2 hours before the slot (the applicant's
rule); the hall may cancel any booking that has not been checked in, e.g. when
it closes unexpectedly, and the reason goes into the audit entry.
"""

from __future__ import annotations

from datetime import date

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from backend.errors import BadInput, InvalidTransition, NotFound
from backend.models import Appointment, AppointmentState, Hall, MatterVersion, QueueCategory
from backend.services.queue import local_day
from backend.web.admin import blueprint
from backend.web.admin.common import (
    AdminForm,
    Clean,
    admin_only,
    all_halls,
    audit,
    done,
    ext,
    now,
    readable,
    selected_hall,
)

STATE_LABELS = {
    AppointmentState.BOOKED.value: _l("已预约"),
    AppointmentState.CHECKED_IN.value: _l("已签到"),
    AppointmentState.CANCELLED.value: _l("已取消"),
    AppointmentState.MISSED.value: _l("爽约"),
}


class CancelForm(AdminForm):
    reason = StringField(_l("取消原因"), validators=[DataRequired(), Length(2, 200), Clean()])


@blueprint.get("/appointments")
@readable
def appointments() -> str:
    with ext().db.reading() as db:
        hall = selected_hall(db)
        try:
            day = date.fromisoformat(request.args.get("day", ""))
        except ValueError:
            day = local_day(now(), hall.timezone)
        rows = db.execute(
            select(Appointment, QueueCategory, MatterVersion)
            .join(QueueCategory, QueueCategory.id == Appointment.category_id)
            .outerjoin(MatterVersion, MatterVersion.id == Appointment.matter_version_id)
            .where(Appointment.hall_id == hall.id, Appointment.day == day)
            .order_by(Appointment.slot_start, Appointment.id)
        ).all()
        return render_template(
            "admin/appointments/index.html",
            hall=hall,
            halls=all_halls(db),
            day=day,
            rows=rows,
            state_labels=STATE_LABELS,
            cancel_form=CancelForm(formdata=None),
        )


@blueprint.post("/appointments/<int:appointment_id>/cancel")
@admin_only
def appointments_cancel(appointment_id: int) -> Response:
    form = CancelForm()
    if not form.validate_on_submit():
        raise BadInput(_("请填写取消原因（2-200 字）"))
    with ext().db.writing() as db:
        appointment = db.get(Appointment, appointment_id, with_for_update=True)
        if appointment is None:
            raise NotFound(_("预约不存在"))
        if appointment.state is not AppointmentState.BOOKED:
            raise InvalidTransition(_("该预约已签到或已取消"))
        appointment.state = AppointmentState.CANCELLED
        audit(
            db,
            "appointment.cancel",
            "appointment",
            appointment.id,
            {"reason": form.reason.data, "code": appointment.code, "by": "hall"},
        )
        hall = db.get(Hall, appointment.hall_id)
        assert hall is not None
        code, day = hall.code, appointment.day.isoformat()
    return done(_("预约已取消"), "admin.appointments", hall=code, day=day)
