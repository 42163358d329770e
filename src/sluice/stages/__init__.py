"""Stage types, registered by the name a template row gives in `stage_type`."""
