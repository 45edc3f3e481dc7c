"""SewNet hub: live production capacity per workshop, read from InfluxDB (or the hub's own
embedded store) and served as an API and a page."""
