"""Error pages: a user's mistake gets a clear page with the right status, never a traceback.

JSON callers (``Accept: application/json`` or paths under /api) get ``{"error", "message"}``.
"""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..errors import BihuanError

TITLES = {400: "请求有误", 403: "无权访问", 404: "未找到", 405: "不支持的操作", 409: "操作冲突",
          413: "文件过大", 429: "操作过于频繁", 500: "系统错误", 503: "服务暂不可用"}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str, code: str = "error"):
    if wants_json():
        return jsonify({"error": code, "message": message}), status
    title = _(TITLES.get(status, "错误"))
    return render_template("error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(BihuanError)
    def _domain_error(exc: BihuanError):
        return error_response(exc.http_status, str(exc), exc.code)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, _("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"), "csrf")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        messages = {403: _("您没有权限访问此页面或执行此操作。"), 404: _("您要找的页面或记录不存在。"),
                    413: _("上传的内容超过了大小限制。")}
        return error_response(exc.code or 500, messages.get(exc.code, exc.description or ""), exc.name)
