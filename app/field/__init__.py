"""The crews' mobile field form: its page, service worker, manifest and scripts."""
