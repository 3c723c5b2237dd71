"""The fake Canopy: a practice-management product's Public API v3."""
