"""A stateful fake of the QuickBooks Online Accounting API v3 and Intuit OAuth 2.0."""
