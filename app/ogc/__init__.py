"""OGC API - Features at /ogc, for QGIS and other GIS clients."""
