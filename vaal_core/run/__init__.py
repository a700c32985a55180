"""A run of the active-learning loop: its rounds (train, query), the label pool, the run
directory and its records, TensorBoard, and the ways a run is spread over processes
(several runs at once, one run across DDP ranks)."""
