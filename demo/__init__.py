"""The demo: sample claims down every path, on the embedded server, with a table of outcomes."""
