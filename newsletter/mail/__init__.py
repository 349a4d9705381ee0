"""Building messages (render once, personalise per reader) and the transports that carry them."""
