"""A BI copy of the session's small mall, published once, for the dashboard tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bi_copy(built_mall):
    from privacy.bi_copy import publish_bi_copy

    settings, _, ok = built_mall
    assert ok, "the small mall did not build"
    return publish_bi_copy(settings).path
