"""Outbound channels behind one small interface: ``send(recipient, subject, body)`` raises on failure.

Each channel is switched on by the environment (see README, "Notifications"); a channel that is
not configured is simply absent, and nothing is queued for it.

* email — SMTP with the standard library (``BIHUAN_NOTIFY_SMTP_HOST`` ...);
* webhook — a WeCom (企业微信) or DingTalk group robot: an HTTP POST of a JSON text message to the
  robot's URL, per department (Department.robot_webhook) or one for everybody
  (``BIHUAN_NOTIFY_WEBHOOK_URL``);
* sms — an SMS gateway adapter: an HTTP POST of ``{"phone", "text", "sign"}`` with a bearer token.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import smtplib
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Protocol

TIMEOUT = 10  # seconds; a channel that hangs only delays the drain, never a case


class ChannelError(Exception):
    pass


class Channel(Protocol):
    name: str

    def send(self, recipient: str, subject: str, body: str) -> None: ...


class EmailChannel:
    name = "email"

    def __init__(self, host: str, port: int = 25, sender: str = "bihuan@localhost", user: str | None = None,
                 password: str | None = None, starttls: bool = False):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls = user, password, starttls

    def send(self, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, recipient, subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"SMTP {self.host}:{self.port}: {exc}") from None


def _post_json(url: str, payload: dict, headers: Mapping[str, str] | None = None) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):  # never file:, ftp: ... from a setting
        raise ChannelError(f"not an http(s) URL: {url[:80]}")
    request = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                                     headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.read()
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise ChannelError(f"POST {urllib.parse.urlsplit(url).netloc}: {exc}") from None


class WebhookChannel:
    """WeCom and DingTalk robots take the same text message; DingTalk may also require a signature."""
    name = "webhook"

    def __init__(self, dingtalk_secret: str | None = None):
        self.dingtalk_secret = dingtalk_secret

    def _signed(self, url: str) -> str:
        if not self.dingtalk_secret:
            return url
        stamp = str(int(time.time() * 1000))  # DingTalk checks it against its own clock, not ours
        digest = hmac.new(self.dingtalk_secret.encode(), f"{stamp}\n{self.dingtalk_secret}".encode(),
                          hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest))
        return f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}"

    def send(self, recipient: str, subject: str, body: str) -> None:
        raw = _post_json(self._signed(recipient), {"msgtype": "text", "text": {"content": f"{subject}\n{body}"}})
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {}
        # Both robots answer HTTP 200 with {"errcode": 0, ...}; anything else is a refusal.
        if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
            raise ChannelError(f"robot refused: {answer.get('errcode')} {answer.get('errmsg', '')}")


class SmsChannel:
    name = "sms"

    def __init__(self, url: str, token: str | None = None, sign: str = "闭环"):
        self.url, self.token, self.sign = url, token, sign

    def send(self, recipient: str, subject: str, body: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        _post_json(self.url, {"phone": recipient, "text": f"{subject}：{body}", "sign": self.sign}, headers)


def configured(environ: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """The channels switched on in ``environ`` (default: the process environment), by name."""
    env = os.environ if environ is None else environ
    channels: dict[str, Channel] = {}
    if env.get("BIHUAN_NOTIFY_SMTP_HOST"):
        channels["email"] = EmailChannel(
            env["BIHUAN_NOTIFY_SMTP_HOST"], int(env.get("BIHUAN_NOTIFY_SMTP_PORT") or 25),
            env.get("BIHUAN_NOTIFY_SMTP_FROM") or "bihuan@localhost", env.get("BIHUAN_NOTIFY_SMTP_USER") or None,
            env.get("BIHUAN_NOTIFY_SMTP_PASSWORD") or None,
            (env.get("BIHUAN_NOTIFY_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"))
    if (env.get("BIHUAN_NOTIFY_WEBHOOK") or "").lower() in ("1", "true", "yes") or env.get("BIHUAN_NOTIFY_WEBHOOK_URL"):
        channels["webhook"] = WebhookChannel(env.get("BIHUAN_NOTIFY_DINGTALK_SECRET") or None)
    if env.get("BIHUAN_NOTIFY_SMS_URL"):
        channels["sms"] = SmsChannel(env["BIHUAN_NOTIFY_SMS_URL"], env.get("BIHUAN_NOTIFY_SMS_TOKEN") or None,
                                     env.get("BIHUAN_NOTIFY_SMS_SIGN") or "闭环")
    return channels


def default_webhook(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    return env.get("BIHUAN_NOTIFY_WEBHOOK_URL") or None
