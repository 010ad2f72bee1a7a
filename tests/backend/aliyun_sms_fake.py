"""A local stand-in for Alibaba Cloud SMS (dysmsapi SendSms) on 127.0.0.1.

It checks each request as the real service does -- the RPC signature v1
(HMAC-SHA1 over the sorted, RFC 3986-encoded parameters, key = secret + "&"),
the AccessKeyId, a fresh SignatureNonce, a recent Timestamp and the SendSms
parameters -- and answers as the documentation shows: ``{"Code": "OK", ...}``
when accepted, an error code otherwise. ``mode`` picks the answer for valid
requests: accept, refuse, throttle, error500 or hang (no answer until the test
ends, so the client's timeout fires).

The signature check is written here from the vendor's documentation on its own,
not with the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

from backend.config import SmsSettings
from hallbus.ports import free_loopback_port

KEY_ID = "LTAI-test-key"
KEY_SECRET = "test-secret-of-the-hall"
SIGN_NAME = "示范区政务服务中心"
TEMPLATE_TURN_NEAR = "SMS_500000001"
TEMPLATE_ALERT = "SMS_500000002"


def _encode(value: str) -> str:
    return quote(value, safe="~-_.")


def expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    query = "&".join(_encode(k) + "=" + _encode(params[k]) for k in sorted(params))
    to_sign = method + "&" + _encode("/") + "&" + _encode(query)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Received:
    phone: str
    template_code: str
    params: dict[str, str]
    sign_name: str
    request_id: str


@dataclass
class FakeAliyunSms:
    port: int
    mode: str = "accept"
    accepted: list[Received] = field(default_factory=list)
    rejected_signatures: int = 0
    requests: int = 0
    # Set for every request answered (or held), so tests await it instead of sleeping.
    arrived: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)
    _nonces: set[str] = field(default_factory=set)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: self.requests >= count, timeout)

    def answer(self, form: dict[str, str], now: datetime) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4()).upper()
        signature = form.pop("Signature", "")
        if form.get("AccessKeyId") != KEY_ID:
            return 404, {
                "Code": "InvalidAccessKeyId.NotFound",
                "RequestId": request_id,
                "Message": "Specified access key is not found.",
            }
        if not hmac.compare_digest(signature, expected_signature("POST", form, KEY_SECRET)):
            self.rejected_signatures += 1
            return 400, {
                "Code": "SignatureDoesNotMatch",
                "RequestId": request_id,
                "Message": "Specified signature is not matched with our calculation.",
            }
        nonce = form.get("SignatureNonce", "")
        if not nonce or nonce in self._nonces:
            return 400, {
                "Code": "SignatureNonceUsed",
                "RequestId": request_id,
                "Message": "Specified signature nonce was used already.",
            }
        self._nonces.add(nonce)
        stamp = datetime.strptime(form.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ")
        if abs(stamp.replace(tzinfo=UTC) - now) > timedelta(minutes=15):
            return 400, {
                "Code": "InvalidTimeStamp.Expired",
                "RequestId": request_id,
                "Message": "Specified time stamp or date value is expired.",
            }
        wanted = {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "Format": "JSON",
        }
        for key, value in wanted.items():
            if form.get(key) != value:
                return 400, {
                    "Code": "MissingParameter",
                    "RequestId": request_id,
                    "Message": f"{key} is mandatory for this action.",
                }
        if form.get("SignName") != SIGN_NAME:
            return 200, {
                "Code": "isv.SMS_SIGNATURE_ILLEGAL",
                "RequestId": request_id,
                "Message": "签名不合法",
            }
        if self.mode == "refuse":
            return 200, {
                "Code": "isv.MOBILE_NUMBER_ILLEGAL",
                "RequestId": request_id,
                "Message": "非法手机号",
            }
        if self.mode == "throttle":
            return 200, {
                "Code": "isv.BUSINESS_LIMIT_CONTROL",
                "RequestId": request_id,
                "Message": "触发分钟级流控Permits:1",
            }
        if self.mode == "error500":
            return 500, {
                "Code": "InternalError",
                "RequestId": request_id,
                "Message": "The request processing has failed due to some unknown error.",
            }
        self.accepted.append(
            Received(
                phone=form["PhoneNumbers"],
                template_code=form["TemplateCode"],
                params=json.loads(form["TemplateParam"]),
                sign_name=form["SignName"],
                request_id=request_id,
            )
        )
        return 200, {
            "Message": "OK",
            "RequestId": request_id,
            "BizId": "9006197469364984400^0",
            "Code": "OK",
        }


def gateway_settings(fake: FakeAliyunSms, **changes: Any) -> SmsSettings:
    """Settings of a gateway pointed at ``fake`` (two attempts, a 2 s timeout)."""
    values: dict[str, Any] = {
        "endpoint": fake.endpoint,
        "access_key_id": KEY_ID,
        "access_key_secret": KEY_SECRET,
        "sign_name": SIGN_NAME,
        "template_turn_near": TEMPLATE_TURN_NEAR,
        "template_alert": TEMPLATE_ALERT,
        "timeout_seconds": 2.0,
        "max_attempts": 2,
    }
    values.update(changes)
    return SmsSettings.model_validate(values)


@contextmanager
def running_fake() -> Iterator[FakeAliyunSms]:
    fake, server = start_fake()
    try:
        yield fake
    finally:
        stop_fake(fake, server)


def start_fake(now: Any = None) -> tuple[FakeAliyunSms, ThreadingHTTPServer]:
    """``now``: the clock the Timestamp is checked against (the gateway's clock)."""
    fake = FakeAliyunSms(port=free_loopback_port())
    clock = now or (lambda: datetime.now(UTC))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            form = dict(parse_qsl(body, keep_blank_values=True))
            if fake.mode == "hang":
                with fake.arrived:
                    fake.requests += 1
                    fake.arrived.notify_all()
                fake.release.wait(30)
                return
            status, answer = fake.answer(form, clock())
            payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            with fake.arrived:
                fake.requests += 1
                fake.arrived.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the test reads what arrived, not the access log

    server = ThreadingHTTPServer(("127.0.0.1", fake.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server


def stop_fake(fake: FakeAliyunSms, server: ThreadingHTTPServer) -> None:
    fake.release.set()
    server.shutdown()
    server.server_close()
