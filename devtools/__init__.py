"""Build-time and test-time tools, not part of the runtime package: the sample generator and the fake ArcGIS server."""
