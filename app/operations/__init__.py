"""Operations: backup and restore, the consistency check, archiving closed cases' engine state."""
