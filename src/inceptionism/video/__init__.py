"""Dreaming clips: optical flow (``flow``), the frame loop (``clip``) and the endless zoom."""
