"""What the HTTP edges share: the services their routes use (`deps.py`), the caller's token checked at the door
(`auth.py`), problem documents (`problems.py`), the claim calls made in the caller's name (`claims.py`), body
limits and traces. The JSON API (`api/`) and the pages (`web/`) stand on it."""
