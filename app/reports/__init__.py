"""The crews' JSON contract: reports, photos, facilities near a crew, and the cases assigned to them."""
