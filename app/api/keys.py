"""Client systems and their API keys: registered by admins, keys shown once and stored hashed.

A client acts through a system account (``api-<name>``, no usable password) whose roles follow
from its scopes, so every action goes through the same role checks as a person's:

    intake  -> operator   (may register, like the 受理 page)
    read    -> viewer     (sees cases; narrowed to the client's department when it has one)
    reports -> viewer
    tasks   -> handler of the client's department (a department's own system completes its tasks)

    client = register_client(session, "platform", ["intake", "read"], actor="admin")
    raw = create_key(session, "platform", actor="admin")      # the only time the key exists in clear
    client = authenticate_api_key(session, raw, "intake")     # or InvalidKey / Forbidden
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..auth.models import User, UserRole
from ..cases.models import AuditEntry, Case
from ..errors import Forbidden, Invalid, NotFound
from ..org.models import Department
from .models import EVENTS, SCOPES, ApiClient, ApiKey

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,39}$")
KEY = re.compile(r"^bh_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")
SCOPE_ROLES = {"intake": "operator", "read": "viewer", "reports": "viewer", "tasks": "handler"}
UNUSABLE_PASSWORD = "!api-client"  # not an argon2 hash: verify_password is always False


class InvalidKey(Forbidden):
    """No key, a malformed, unknown or revoked key, or an inactive client: 401 for the JSON API
    (Open311 answers 403 for the same thing, as its specification says)."""
    code = "invalid_key"
    http_status = 401


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def username_for(name: str) -> str:
    return f"api-{name}"


def source_for(client: ApiClient) -> str:
    """The audit rows' source: the client's name."""
    return f"api:{client.name}"


def roles_for(scopes, department: str | None) -> list[str]:
    return sorted({SCOPE_ROLES[s] for s in scopes if not (s == "tasks" and not department)})


def _audit(session: Session, actor: str, action: str, changes: dict, source: str = "web") -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action=action, changes=changes, source=source))


RESERVED_NAMES = ("opinion", "open311")  # app/feeds/opinion.py and app/open311/posting.py SOURCE


def check_client_fields(session: Session, name: str, scopes, department: str | None) -> list[tuple[str, str]]:
    errors = []
    if not NAME.match(name or ""):
        errors.append(("name", "2-40 lowercase letters, digits, - or _, starting with a letter or digit"))
    elif name in RESERVED_NAMES:
        # A client's name is the external_source of the cases it pushes; these two are Bihuan's own
        # feeds, and a client named so would see and update their cases by external_id.
        errors.append(("name", f"'{name}' is reserved for Bihuan's own feed; choose another name"))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        errors.append(("scopes", f"unknown scope(s): {', '.join(unknown)}; use {', '.join(SCOPES)}"))
    elif not scopes:
        errors.append(("scopes", "choose at least one scope"))
    if department and session.scalars(select(Department).where(Department.code == department)).first() is None:
        errors.append(("department", f"unknown department '{department}'"))
    if "tasks" in scopes and not department:
        errors.append(("department", "the tasks scope needs a department (its system completes that department's tasks)"))
    return errors


def register_client(session: Session, name: str, scopes, *, actor: str, department: str | None = None,
                    description: str = "", rate_limit: int | None = None) -> ApiClient:
    name = (name or "").strip()
    scopes = sorted(set(scopes or []))
    department = department or None
    errors = check_client_fields(session, name, scopes, department)
    if rate_limit is not None and not (1 <= rate_limit <= 100000):
        errors.append(("rate_limit", "between 1 and 100000 requests a minute"))
    if not errors and session.scalars(select(ApiClient).where(ApiClient.name == name)).first() is not None:
        errors.append(("name", f"a client named '{name}' exists"))
    if not errors and session.scalars(select(User).where(User.username == username_for(name))).first() is not None:
        errors.append(("name", f"a user named '{username_for(name)}' exists"))
    if errors:
        raise Invalid("; ".join(f"{f}: {m}" for f, m in errors), fields=errors)
    now = utcnow()
    user = User(username=username_for(name), display_name=f"接口：{name}", password_hash=UNUSABLE_PASSWORD,
                department=department, active=True, created_at=now)
    user.role_rows = [UserRole(role=r) for r in roles_for(scopes, department)]
    session.add(user)
    session.flush()
    client = ApiClient(name=name, description=(description or "")[:200], scopes=scopes, department=department,
                       user_id=user.id, active=True, webhook_events=[], rate_limit=rate_limit, created_at=now,
                       created_by=actor)
    session.add(client)
    session.flush()
    _audit(session, actor, "api_client_add", {"client": name, "scopes": scopes, "department": department})
    return client


def find_client(session: Session, name: str) -> ApiClient:
    client = session.scalars(select(ApiClient).where(ApiClient.name == name)).first()
    if client is None:
        raise NotFound(f"unknown API client '{name}'")
    return client


def set_client_active(session: Session, name: str, active: bool, *, actor: str) -> ApiClient:
    client = find_client(session, name)
    client.active = bool(active)
    user = session.get(User, client.user_id)
    if user is not None:
        user.active = bool(active)
    _audit(session, actor, "api_client_activate" if active else "api_client_deactivate", {"client": name})
    return client


def create_key(session: Session, client_name: str, *, actor: str) -> str:
    """A new key for the client; the return value is the only time it exists in clear."""
    client = find_client(session, client_name)
    prefix = secrets.token_hex(6)
    raw = f"bh_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(client_id=client.id, prefix=prefix, key_hash=hash_key(raw), created_at=utcnow(),
                       created_by=actor))
    _audit(session, actor, "api_key_create", {"client": client.name, "prefix": prefix})
    return raw


def revoke_key(session: Session, prefix: str, *, actor: str) -> ApiKey:
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None:
        raise NotFound(f"unknown API key '{prefix}'")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        client = session.get(ApiClient, key.client_id)
        _audit(session, actor, "api_key_revoke", {"client": client.name if client else None, "prefix": prefix})
    return key


def set_webhook(session: Session, client_name: str, url: str | None, events, *, actor: str,
                new_secret: bool = False) -> str | None:
    """Subscribe the client to events at ``url`` (empty: unsubscribe). Returns a new signing secret
    when one was made (the first subscription, or ``new_secret``): shown once, like a key."""
    client = find_client(session, client_name)
    url = (url or "").strip() or None
    events = sorted(set(events or []))
    errors = []
    if url and not re.match(r"^https?://[^\s/]+", url):
        errors.append(("webhook_url", "an http:// or https:// URL"))
    if url and len(url) > 500:
        errors.append(("webhook_url", "at most 500 characters"))
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        errors.append(("events", f"unknown event(s): {', '.join(unknown)}; use {', '.join(EVENTS)}"))
    if url and not events:
        errors.append(("events", "choose at least one event"))
    if errors:
        raise Invalid("; ".join(f"{f}: {m}" for f, m in errors), fields=errors)
    client.webhook_url, client.webhook_events = url, events if url else []
    secret = None
    if url and (new_secret or not client.webhook_secret):
        secret = "whsec_" + secrets.token_urlsafe(32)
        client.webhook_secret = secret
    _audit(session, actor, "api_webhook_set", {"client": client.name, "url": url, "events": client.webhook_events,
                                               "new_secret": secret is not None})
    return secret


def authenticate_api_key(session: Session, raw_key: str | None, scope: str) -> ApiClient:
    """The active client holding this unrevoked key, if the key carries ``scope``.

    Raises InvalidKey (401) for a missing, malformed, unknown or revoked key or an inactive
    client, and Forbidden (403) when the client lacks the scope. Compared in constant time."""
    match = KEY.match((raw_key or "").strip())
    if not match:
        raise InvalidKey("missing or malformed API key")
    row = session.execute(select(ApiKey, ApiClient).join(ApiClient, ApiClient.id == ApiKey.client_id)
                          .where(ApiKey.prefix == match.group(1))).first()  # one round trip per call
    if row is None or not hmac.compare_digest(row[0].key_hash, hash_key(raw_key.strip())) \
            or row[0].revoked_at is not None or not row[1].active:
        raise InvalidKey("invalid or revoked API key")
    key, client = row
    if scope not in (client.scopes or []):
        raise Forbidden(f"the key of '{client.name}' lacks the '{scope}' scope")
    client.key_prefix, client.key_last_used_at = key.prefix, key.last_used_at  # limits and last use are per key
    return client


def client_case_scope(client: ApiClient, user: User):
    """The cases this client may read: its account's visibility (the browser's rule), narrowed to
    its department when it has one, but always including the cases it handed over itself."""
    from ..cases.visibility import case_scope
    own = Case.external_source == client.name
    if not client.department:
        return or_(case_scope(user), own)
    return or_(Case.department == client.department, own)


def client_user(session: Session, client: ApiClient) -> User:
    user = session.get(User, client.user_id)
    if user is None or not user.active:
        raise InvalidKey("the client's account is inactive")
    return user


def list_clients(session: Session) -> list[dict]:
    clients = session.scalars(select(ApiClient).order_by(ApiClient.name)).all()
    keys = session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())).all()
    by_client: dict[int, list] = {}
    for key in keys:
        by_client.setdefault(key.client_id, []).append(
            {"prefix": key.prefix, "created_at": key.created_at, "created_by": key.created_by,
             "revoked_at": key.revoked_at, "last_used_at": key.last_used_at})
    return [{"name": c.name, "description": c.description, "scopes": c.scopes, "department": c.department,
             "active": c.active, "webhook_url": c.webhook_url, "webhook_events": c.webhook_events,
             "rate_limit": c.rate_limit, "created_at": c.created_at, "keys": by_client.get(c.id, [])}
            for c in clients]

