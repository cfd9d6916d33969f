"""The command line for back-office staff and systems (`python starter.py ...`)."""
