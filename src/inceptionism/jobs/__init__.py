"""Many dreams: batches of files (``batch``) and the executors that run them."""
