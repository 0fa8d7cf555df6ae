"""CaseService.register names the argument at fault in ``Invalid.fields``, so that a form can show
the problem at its field without reading the message."""
from __future__ import annotations

import pytest

from app.errors import Invalid


@pytest.mark.parametrize("kwargs, field", [
    ({"channel": "fax"}, "channel"),
    ({"type": "闲聊"}, "type"),
    ({"text": "   "}, "text"),
    ({"text": "长" * 5001}, "text"),
    ({"reporter_phone": "call me"}, "reporter_phone"),
    ({"grid": "G99"}, "grid"),
])
def test_register_names_the_field_at_fault(driver, kwargs, field):
    with pytest.raises(Invalid) as err:
        driver.register(**kwargs)
    assert [name for name, _message in err.value.fields] == [field]
    assert all(message for _name, message in err.value.fields)
