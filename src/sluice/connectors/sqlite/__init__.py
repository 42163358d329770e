"""SQLite: an embedded source (declared types decide the Arrow types) and an embedded sink."""
