"""The made-to-measure kiosk (issue 8): measurements, patterns, fit, and the shopper's pages."""
