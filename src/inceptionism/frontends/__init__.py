"""Front ends: the ``deepdream`` command (``cli``) and its settings files (``configfile``)."""
