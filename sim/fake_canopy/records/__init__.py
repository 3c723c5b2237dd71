"""Records of a firm: one generic resource, one `Kind` per record type."""
