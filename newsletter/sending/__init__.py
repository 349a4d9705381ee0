"""The one send path (claim a batch, deliver, record, retry) and the runners that drive it."""
