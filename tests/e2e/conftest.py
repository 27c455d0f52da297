"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest

from devtools.fake_arcgis import FakeArcGIS


@pytest.fixture(scope="module")
def arcgis(request):
    """The fake ArcGIS GeocodeServer, with the test module's API key (its ARCGIS_KEY), up before the
    Airflow stack and stopped after it, pass or fail."""
    fake = FakeArcGIS(api_key=request.module.ARCGIS_KEY).start()
    try:
        yield fake
    finally:
        fake.stop()
