"""Simulators: sewing-machine pulse models and the virtual ESP32 board that runs the firmware."""
