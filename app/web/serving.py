"""The embedded server's request handler (``bihuan serve``): no versions in the Server header, and
no personal data in the access log."""
from __future__ import annotations

import re

from werkzeug.serving import WSGIRequestHandler

# Query parameters whose values are personal data: the access log keeps the name, not the value.
PERSONAL_PARAMETERS = ("phone", "reporter_phone", "reporter_name", "name", "id_card", "tail")
_PERSONAL = re.compile(r"([?&](?:%s)=)[^&\s]*" % "|".join(PERSONAL_PARAMETERS), re.IGNORECASE)


def redact(request_line: str) -> str:
    return _PERSONAL.sub(r"\1***", request_line)


class BihuanRequestHandler(WSGIRequestHandler):
    def version_string(self) -> str:
        # Werkzeug/x Python/y tells an attacker which vulnerabilities to try, and nobody else anything.
        return "Bihuan"

    def log_request(self, code="-", size="-"):
        self.requestline = redact(getattr(self, "requestline", ""))
        super().log_request(code, size)
