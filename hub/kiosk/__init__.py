"""Made-to-measure kiosk: measurements, patterns, fit map, promise and tracking (issue 8)."""
