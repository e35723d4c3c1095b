"""The dashboards' sources on the session's small mall: the BI copy and the management_bi
role file, which hold the same role-scoped marts (published once each)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bi_copy(built_mall):
    from privacy.bi_copy import publish_bi_copy

    settings, _, ok = built_mall
    assert ok, "the small mall did not build"
    return publish_bi_copy(settings).path


@pytest.fixture(scope="session")
def management_bi_file(built_mall):
    from privacy.publish import publish_role_files

    settings, _, ok = built_mall
    assert ok, "the small mall did not build"
    return publish_role_files(settings)["management_bi"].path
