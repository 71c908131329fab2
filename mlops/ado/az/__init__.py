"""An emulated Azure (``az`` and the Azure ML SDK seam) backed by the local twin."""
