"""What both fakes share: store, clock, ids, journal, admin routes, serving."""
