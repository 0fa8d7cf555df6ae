"""The password policy for staff accounts (等保 2.0: complexity, no trivial or personal passwords).

At least ``MIN_LENGTH`` characters from at least three of four classes (lower case, upper case,
digits, other), not containing the username, and not one of the passwords attackers try first.
The demo password is on that list: outside debug and testing it cannot be set, and accounts that
still have it must change it (``BIHUAN_ENV=production``, app/auth/views.py).
"""
from __future__ import annotations

import functools
import os

from flask_babel import lazy_gettext as _l

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 would take more, but nobody types more and it bounds hashing work
DEMO_PASSWORD = "bihuan123"
# The usual first guesses, lower-cased; a password is refused if it equals one of these once
# lower-cased, or is one of them followed by digits or punctuation.
COMMON = frozenset("""
123456 1234567 12345678 123456789 1234567890 0123456789 111111 000000 666666 888888 123123 654321
password passw0rd p@ssw0rd p@ssword password1 password123 qwerty qwerty123 qwertyuiop asdfgh asdfghjkl
zxcvbnm abc123 abcd1234 a1b2c3d4 iloveyou welcome welcome1 letmein admin admin123 admin@123 administrator
root root123 test test123 guest changeme default secret qazwsx 1qaz2wsx 1q2w3e4r 1q2w3e4r5t zaq12wsx
woaini woaini1314 5201314 1314520 aini1314 huawei123 china123 beijing123 shanghai123 bihuan bihuan123
bihuan@123 bihuan2026
""".split())


def _classes(password: str) -> int:
    return sum([any(c.islower() for c in password), any(c.isupper() for c in password),
                any(c.isdigit() for c in password), any(not c.isalnum() for c in password)])


def _is_common(password: str) -> bool:
    lowered = password.lower()
    stem = lowered.rstrip("0123456789!@#$%^&*.-_ ")
    return lowered in COMMON or stem in COMMON


def policy_problem(password: str, username: str = "") -> str | None:
    """Why the password is not acceptable, in the user's language; None when it is."""
    if len(password) < MIN_LENGTH:
        return str(_l("密码至少 %(n)d 位。", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        return str(_l("密码太长。"))
    if _classes(password) < 3:
        return str(_l("密码须包含大写字母、小写字母、数字、符号中的至少三类。"))
    if username and username.lower() in password.lower():
        return str(_l("密码不能包含用户名。"))
    if _is_common(password):
        return str(_l("这个密码太常见，请换一个。"))
    return None


@functools.cache
def hasher():
    """argon2id at the library's default cost (RFC 9106's low-memory profile, about 0.1–0.2 s a
    hash). The test suite alone may ask for the cheapest parameters: it logs in thousands of times,
    and at the default cost those logins were a third of its running time. Never in production mode
    (BIHUAN_ENV=production), so a stray variable cannot weaken a deployment's hashes."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST
    if os.environ.get("BIHUAN_TEST_CHEAP_PASSWORD_HASH") == "1" and os.environ.get("BIHUAN_ENV") != "production":
        return PasswordHasher.from_parameters(CHEAPEST)
    return PasswordHasher()
