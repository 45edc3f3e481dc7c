"""The made-to-measure kiosk: a shopper's own measurements, a pattern a cutting room can use, and a
promise kept by live capacity (issue 8). `service` is the public face; `routes` the pages and API
(mounted by hub.app); `catalogue` and `words` what it sells and says; `patterns` and `fit` the
pattern engine and the fit map; `parts` gathers them with the measurements module."""
