"""Claim documents (claimants' scans and photos): what an upload may be, and where its bytes are kept."""
