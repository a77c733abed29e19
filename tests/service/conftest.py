"""The service on the in-memory fakes (see svc_kit)."""

from __future__ import annotations

import pytest
from svc_kit import Kit, make_kit


@pytest.fixture
def kit() -> Kit:
    return make_kit()
