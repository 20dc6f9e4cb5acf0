"""Crews as records: the coordinators' crews page, the crews API, and what crews' reports do to them."""
