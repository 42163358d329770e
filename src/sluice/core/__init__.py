"""Pure building blocks: models, errors, ids and the clock. No IO, no other sluice imports."""
