"""Segment insight: transitions between snapshots, trends, the stored report, and the RFM page of
the Airflow UI (a FastAPI app the plugin in ``plugins/rfm_insight.py`` mounts on the API server)."""
