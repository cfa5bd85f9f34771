"""Deputy duty records (一人一档): see `chalicelib.records.duty`."""
