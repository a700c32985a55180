"""Training and inference of the task model on a device: the data view and its batches,
augmentation, the trainer and its schedules, passes over the pool, precision, seeding and
host synchronisation, compiled steps."""
