"""Framework-free helpers: configuration parsing, encryption, hash chains."""
