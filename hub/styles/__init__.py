"""My Style Lab: a catalogue of Dongdaemun products and style recommendations for shoppers."""
