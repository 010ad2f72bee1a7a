from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.web.helpers import Browser


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)
