"""The SMS gateway (Alibaba Cloud SMS, against a signature-checking fake on
127.0.0.1) and the 到号提醒 turn-is-near reminder, through the real API."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pydantic import ValidationError
from sqlalchemy import select, update

from backend.app import create_app
from backend.config import Settings, SmsSettings, sms_settings_from_env
from backend.db import Database
from backend.models import Appointment, Hall, QueueCategory, Ticket
from backend.models.sms import SmsMessage, TicketContact
from backend.services import queue, sms, turn_notice
from tests.backend.aliyun_sms_fake import (
    SIGN_NAME,
    TEMPLATE_TURN_NEAR,
    FakeAliyunSms,
    gateway_settings,
    running_fake,
)
from tests.conftest import Api, FakeClock, clerk_for_window

PHONE = "13912345678"
PHONE_MASKED = "139****5678"
TICKETS = "/api/v1/halls/BH/tickets"


@pytest.fixture
def fake() -> Iterator[FakeAliyunSms]:
    with running_fake() as server_fake:
        yield server_fake


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake: FakeAliyunSms) -> Settings:
    """The tests' settings (tests/conftest.py) with the gateway pointed at the fake."""
    from tests.conftest import SECRET

    return Settings(
        database_url=database_url,
        secret_key=SECRET,
        var_dir=tmp_path / "var",
        upload_dir=tmp_path / "var" / "uploads",
        testing=True,
        token_cache_seconds=0.0,
        sms=gateway_settings(fake),
    )


def _app_with(settings: Settings, clock: FakeClock, sms_config: SmsSettings | None) -> Flask:
    application = create_app(settings.model_copy(update={"sms": sms_config}))
    application.extensions["hallkit"].clock = clock
    return application


def issue(api: Api, token: str, category: str = "A", **extra: Any) -> dict[str, Any]:
    status, ticket = api.post(TICKETS, token, {"category": category, **extra})
    assert status == 201, ticket
    return ticket


def call_next(api: Api, clerk: str, window: str = "1") -> dict[str, Any] | None:
    status, body = api.post(f"/api/v1/halls/BH/windows/{window}/call-next", clerk)
    assert status == 200, body
    ticket: dict[str, Any] | None = body["ticket"]
    return ticket


def messages(db: Database) -> list[SmsMessage]:
    with db.reading() as session:
        rows = list(session.execute(select(SmsMessage).order_by(SmsMessage.id)).scalars())
        session.expunge_all()
        return rows


def reminders(app: Flask) -> turn_notice.ReminderWorker:
    worker: turn_notice.ReminderWorker = app.extensions["hallkit"].reminders()
    return worker


# --------------------------------------------------------------------------- the gateway


def test_signature_matches_the_vendors_documented_examples() -> None:
    # The SendSms example of the SMS documentation and the RPC signature page's
    # DescribeRegions example, both signed with GET.
    send_sms = {
        "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
        "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }  # fmt: skip
    assert sms.aliyun_signature("GET", send_sms, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    describe_regions = {
        "Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0", "Version": "2014-05-26", "Timestamp": "2016-02-23T12:46:24Z",
    }  # fmt: skip
    assert sms.aliyun_signature("GET", describe_regions, "testsecret") == (
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    )
    assert sms.percent_encode("a b*~/") == "a%20b%2A~%2F"


def test_accepted_only_on_code_ok_with_the_gateways_request_id(fake: FakeAliyunSms) -> None:
    gateway = sms.AliyunSmsGateway(gateway_settings(fake))
    accepted = gateway.send(PHONE, TEMPLATE_TURN_NEAR, {"ticket": "A007"})
    assert [r.phone for r in fake.accepted] == [PHONE]
    assert accepted.request_id == fake.accepted[0].request_id
    assert fake.accepted[0].sign_name == SIGN_NAME
    fake.mode = "refuse"
    with pytest.raises(sms.SmsRefused, match=r"isv\.MOBILE_NUMBER_ILLEGAL"):
        gateway.send(PHONE, TEMPLATE_TURN_NEAR, {"ticket": "A007"})
    fake.mode = "throttle"
    with pytest.raises(sms.SmsUnavailable, match="BUSINESS_LIMIT_CONTROL"):
        gateway.send(PHONE, TEMPLATE_TURN_NEAR, {"ticket": "A007"})
    fake.mode = "error500"
    with pytest.raises(sms.SmsUnavailable, match="HTTP 500"):
        gateway.send(PHONE, TEMPLATE_TURN_NEAR, {"ticket": "A007"})
    assert len(fake.accepted) == 1


def test_a_wrong_secret_is_refused_by_the_signature_check(fake: FakeAliyunSms) -> None:
    gateway = sms.AliyunSmsGateway(gateway_settings(fake, access_key_secret="not-the-secret"))
    with pytest.raises(sms.SmsRefused, match="SignatureDoesNotMatch"):
        gateway.send(PHONE, TEMPLATE_TURN_NEAR, {"ticket": "A007"})
    assert fake.rejected_signatures == 1 and fake.accepted == []


def test_a_gateway_that_does_not_answer_times_out(fake: FakeAliyunSms) -> None:
    fake.mode = "hang"
    gateway = sms.AliyunSmsGateway(gateway_settings(fake, timeout_seconds=0.3))
    with pytest.raises(sms.SmsUnavailable, match="timed out"):
        gateway.send(PHONE, TEMPLATE_TURN_NEAR, {"ticket": "A007"})


def test_settings_come_from_the_environment_and_refuse_unknown_keys() -> None:
    assert sms_settings_from_env({}) is None  # no gateway: the channel is off
    loaded = sms_settings_from_env(
        {
            "HALLKIT_SMS_GATEWAY": "aliyun",
            "HALLKIT_SMS_ACCESS_KEY_ID": "id",
            "HALLKIT_SMS_ACCESS_KEY_SECRET": "secret",
            "HALLKIT_SMS_SIGN_NAME": SIGN_NAME,
            "HALLKIT_SMS_TEMPLATE_TURN_NEAR": TEMPLATE_TURN_NEAR,
        }
    )
    assert loaded is not None and loaded.template_turn_near == TEMPLATE_TURN_NEAR
    assert "secret" not in repr(loaded)
    with pytest.raises(ValidationError):
        sms_settings_from_env({"HALLKIT_SMS_GATEWAY": "tencent", "HALLKIT_SMS_ACCESS_KEY_ID": "x"})
    with pytest.raises(ValidationError):
        SmsSettings.model_validate(
            {"access_key_id": "a", "access_key_secret": "b", "sign_name": "c", "api_key": "d"}
        )


# --------------------------------------------------------------------------- 到号提醒


def test_one_reminder_at_n_ahead_through_the_api(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    kiosk = device_token()
    for _ in range(5):
        issue(api, kiosk)
    mine = issue(api, kiosk, notify_phone=PHONE)  # 5 people ahead; N is 3
    assert mine["ahead"] == 5 and "notify_phone" not in mine
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    worker = reminders(app)
    assert worker.run_once()[0] == 0
    call_next(api, clerk)  # 4 ahead
    assert worker.run_once()[0] == 0 and fake.accepted == []
    call_next(api, clerk)  # 3 ahead: the reminder
    queued, report = worker.run_once()
    assert (queued, report.sent) == (1, 1)
    assert len(fake.accepted) == 1
    received = fake.accepted[0]
    assert received.phone == PHONE and received.template_code == TEMPLATE_TURN_NEAR
    # Only the ticket number, the window and the hall; category A is served by
    # several windows, so no window can be named yet.
    assert received.params == {
        "ticket": mine["number"],
        "window": "请留意叫号",
        "hall": "滨海新区(开发区)公共行政服务中心",
    }
    for _ in range(3):  # 2, 1, 0 ahead, then called: never a second message
        call_next(api, clerk)
        worker.run_once()
    assert call_next(api, clerk)["id"] == mine["id"]  # type: ignore[index]
    worker.run_once()
    assert len(fake.accepted) == 1
    [message] = messages(db)
    assert message.state == "sent" and message.attempts == 1
    assert message.provider_request_id == received.request_id
    assert message.phone_masked == PHONE_MASKED and PHONE not in message.phone_cipher


def test_no_reminder_for_a_ticket_called_before_it_went_out(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    kiosk = device_token()
    for _ in range(4):
        issue(api, kiosk)
    mine = issue(api, kiosk, notify_phone=PHONE)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    call_next(api, clerk)  # 3 ahead
    extension = app.extensions["hallkit"]
    assert (
        turn_notice.queue_due_reminders(
            db, now=extension.clock(), protector=extension.protector, gateway=extension.sms_gateway
        )
        == 1
    )
    status, body = api.post(
        "/api/v1/halls/BH/windows/1/call", clerk, {"number": mine["number"], "reason": "办理急件"}
    )
    assert status == 200 and body["ticket"]["id"] == mine["id"], body
    _queued, report = reminders(app).run_once()
    assert report.cancelled == 1 and report.sent == 0
    assert fake.requests == 0
    [message] = messages(db)
    assert message.state == "cancelled" and "已叫号" in message.last_error


def test_a_number_left_when_already_near_is_not_texted(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    kiosk = device_token()
    issue(api, kiosk)
    issue(api, kiosk, notify_phone=PHONE)  # 1 ahead: about to be called, in the hall
    reminders(app).run_once()
    assert messages(db) == [] and fake.requests == 0


def test_the_category_sets_n_and_zero_turns_reminders_off(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    with db.writing() as session:
        session.execute(
            update(QueueCategory).where(QueueCategory.prefix == "B").values(turn_near_ahead=0)
        )
        session.execute(
            update(QueueCategory).where(QueueCategory.prefix == "A").values(turn_near_ahead=1)
        )
    queue.clear_caches()
    kiosk = device_token()
    for category in ("A", "A", "B", "B"):
        issue(api, kiosk, category)
    issue(api, kiosk, "A", notify_phone=PHONE)
    issue(api, kiosk, "B", notify_phone="13800001111")
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    call_next(api, clerk)  # A: 1 ahead = N
    reminders(app).run_once()
    assert [r.phone for r in fake.accepted] == [PHONE]


def test_a_bad_number_is_refused_and_issues_nothing(
    api: Api, db: Database, device_token: Any
) -> None:
    kiosk = device_token()
    with db.reading() as session:
        before = len(session.execute(select(Ticket.id)).all())
    status, body = api.post(TICKETS, kiosk, {"category": "A", "notify_phone": "12345"})
    assert status == 400 and "11位手机号码" in body["error"]["message"], body
    with db.reading() as session:
        assert len(session.execute(select(Ticket.id)).all()) == before
        assert session.execute(select(TicketContact)).first() is None


def test_a_booking_number_follows_its_ticket(
    app: Flask, api: Api, db: Database, device_token: Any, clock: FakeClock, fake: FakeAliyunSms
) -> None:
    extension = app.extensions["hallkit"]
    with db.writing() as session:
        category = queue.category_by_prefix(
            session, session.execute(select(Hall.id).where(Hall.code == "BH")).scalar_one(), "A"
        )
        session.add(
            Appointment(
                hall_id=category.hall_id,
                category_id=category.id,
                day=date(2026, 11, 26),
                slot_start=time(10, 0),
                slot_end=time(11, 30),
                code="SMS4321",
                name_masked="张*",
                phone_last4=PHONE[-4:],
                phone_cipher=extension.protector.seal_text(PHONE),
            )
        )
    kiosk = device_token()
    for _ in range(4):  # 绿色通道 tickets are called before appointments
        issue(api, kiosk, priority_kind="elderly")
    status, checked_in = api.post(
        "/api/v1/halls/BH/appointments/check-in", kiosk, {"code": "SMS4321"}
    )
    assert status == 201, checked_in
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    worker = reminders(app)
    assert worker.run_once()[0] == 0
    assert checked_in["ahead"] == 4
    call_next(api, clerk)  # 3 ahead
    worker.run_once()
    assert [r.phone for r in fake.accepted] == [PHONE]
    assert fake.accepted[0].params["ticket"] == checked_in["number"]


def test_two_workers_at_once_send_one_reminder(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    kiosk = device_token()
    for _ in range(4):
        issue(api, kiosk)
    issue(api, kiosk, notify_phone=PHONE)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    call_next(api, clerk)
    extension = app.extensions["hallkit"]
    other_process = Database(extension.settings.database_url)
    workers = [
        reminders(app),
        turn_notice.ReminderWorker(
            other_process,
            extension.waiter(),
            clock=extension.clock,
            protector=extension.protector,
            gateway=extension.sms_gateway,
            settings=extension.settings.sms,
        ),
    ]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(worker: turn_notice.ReminderWorker) -> None:
        start.wait()
        try:
            worker.run_once()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    other_process.dispose()
    assert errors == []
    assert len(fake.accepted) == 1 and len(messages(db)) == 1


def test_the_background_worker_sends_when_a_call_commits(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    kiosk = device_token()
    for _ in range(4):
        issue(api, kiosk)
    issue(api, kiosk, notify_phone=PHONE)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    worker = reminders(app)
    worker.start()
    try:
        call_next(api, clerk)  # 3 ahead: the commit wakes the worker
        assert fake.wait_for_requests(1, timeout=20)
    finally:
        worker.stop()
    assert [r.phone for r in fake.accepted] == [PHONE]


# --------------------------------------------------------------------------- honest states


def test_without_a_gateway_the_channel_is_off_and_says_so(
    settings: Settings, clock: FakeClock, fake: FakeAliyunSms
) -> None:
    application = _app_with(settings, clock, None)
    try:
        api = Api(application.test_client())
        database: Database = application.extensions["hallkit"].db
        from tests.conftest import issue_test_device_token

        kiosk = issue_test_device_token(database)
        for _ in range(4):
            issue(api, kiosk)
        issue(api, kiosk, notify_phone=PHONE)
        clerk = api.sign_in(clerk_for_window(database, "1"), window="1")
        call_next(api, clerk)
        queued, report = reminders(application).run_once()
        assert queued == 1 and report.sent == 0
        [message] = messages(database)
        assert message.state == "off" and message.attempts == 0
        assert "未配置" in message.last_error and "off" in message.last_error
        assert fake.requests == 0
    finally:
        application.extensions["hallkit"].close()


def test_failures_are_retried_with_back_off_then_failed(
    app: Flask, api: Api, db: Database, device_token: Any, clock: FakeClock, fake: FakeAliyunSms
) -> None:
    kiosk = device_token()
    for _ in range(4):
        issue(api, kiosk)
    issue(api, kiosk, notify_phone=PHONE)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    call_next(api, clerk)
    fake.mode = "error500"
    worker = reminders(app)
    assert worker.run_once()[1].retrying == 1
    [message] = messages(db)
    assert message.state == "queued" and message.attempts == 1 and "HTTP 500" in message.last_error
    assert message.next_attempt_at == clock.now + timedelta(seconds=30)
    assert worker.run_once()[1] == sms.DispatchReport()  # not due yet: nothing sent
    assert fake.requests == 1
    clock.advance(seconds=30)
    assert worker.run_once()[1].failed == 1  # max_attempts=2
    [message] = messages(db)
    assert message.state == "failed" and message.attempts == 2
    assert "gave up after 2 attempts" in message.last_error and message.sent_at is None


def test_a_refusal_fails_at_once_with_the_gateways_reason(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    kiosk = device_token()
    for _ in range(4):
        issue(api, kiosk)
    issue(api, kiosk, notify_phone=PHONE)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    call_next(api, clerk)
    fake.mode = "refuse"
    assert reminders(app).run_once()[1].failed == 1
    [message] = messages(db)
    assert message.state == "failed" and message.attempts == 1
    assert "isv.MOBILE_NUMBER_ILLEGAL" in message.last_error


def test_logs_show_neither_the_text_nor_the_number(
    app: Flask,
    api: Api,
    db: Database,
    device_token: Any,
    fake: FakeAliyunSms,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    kiosk = device_token()
    for _ in range(4):
        issue(api, kiosk)
    mine = issue(api, kiosk, notify_phone=PHONE)
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    call_next(api, clerk)
    fake.mode = "error500"
    reminders(app).run_once()
    fake.mode = "accept"
    with db.writing() as session:
        session.execute(
            update(SmsMessage).values(next_attempt_at=app.extensions["hallkit"].clock())
        )
    reminders(app).run_once()
    assert len(fake.accepted) == 1
    logged = caplog.text
    assert PHONE not in logged and PHONE_MASKED in logged
    assert "accepted" in logged and "attempt 1 failed" in logged
    for part_of_the_text in ("请留意叫号", "公共行政服务中心", mine["number"]):
        assert part_of_the_text not in logged


# --------------------------------------------------------------------------- the phone page


def test_the_phone_page_takes_a_number_for_the_reminder(
    app: Flask, api: Api, db: Database, device_token: Any, fake: FakeAliyunSms
) -> None:
    from tests.web.helpers import Browser

    kiosk = device_token()
    for _ in range(4):
        issue(api, kiosk)
    mine = issue(api, kiosk)
    page = f"/m/t/{mine['public_token']}"
    visitor = Browser(app.test_client())
    visitor.refresh_token(page)
    assert 'name="phone"' in visitor.get(page).get_data(as_text=True)
    refused = visitor.post(f"{page}/sms", {"phone": "1234"}, follow_redirects=True)
    assert "11位手机号码" in refused.get_data(as_text=True)
    with db.reading() as session:
        assert session.execute(select(TicketContact)).first() is None
    taken = visitor.post(f"{page}/sms", {"phone": PHONE}, follow_redirects=True)
    shown = taken.get_data(as_text=True)
    assert "已登记" in shown and "尾号 5678" in shown and PHONE not in shown
    assert 'name="phone"' not in shown
    clerk = api.sign_in(clerk_for_window(db, "1"), window="1")
    call_next(api, clerk)  # 3 ahead
    reminders(app).run_once()
    assert [r.phone for r in fake.accepted] == [PHONE]


def test_without_a_gateway_the_phone_page_offers_no_sms(
    settings: Settings, clock: FakeClock
) -> None:
    from tests.conftest import issue_test_device_token
    from tests.web.helpers import Browser

    application = _app_with(settings, clock, None)
    try:
        api = Api(application.test_client())
        kiosk = issue_test_device_token(application.extensions["hallkit"].db)
        page = f"/m/t/{issue(api, kiosk)['public_token']}"
        visitor = Browser(application.test_client())
        visitor.refresh_token(page)
        assert 'name="phone"' not in visitor.get(page).get_data(as_text=True)
        refused = visitor.post(f"{page}/sms", {"phone": PHONE}, follow_redirects=True)
        assert "短信提醒暂未开通" in refused.get_data(as_text=True)
        with application.extensions["hallkit"].db.reading() as session:
            assert session.execute(select(TicketContact)).first() is None
    finally:
        application.extensions["hallkit"].close()


def test_the_phone_page_says_it_in_english_too(
    app: Flask, api: Api, db: Database, device_token: Any
) -> None:
    kiosk = device_token()
    issue(api, kiosk)
    mine = issue(api, kiosk)  # 1 ahead: near
    page = app.test_client().get(f"/m/t/{mine['public_token']}?lang=en").get_data(as_text=True)
    assert "Your turn is near!" in page and "Text me" in page
    assert "快到您了" not in page
