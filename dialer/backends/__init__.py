"""Telephony backends: the protocol and clocks (base, clock), the simulator (sim), the Asterisk adapter (asterisk)."""

from dialer.backends.base import Clock, TelephonyBackend

__all__ = ["Clock", "TelephonyBackend"]
