"""The pages: the staff workbench (`workbench.py`), the claimant's progress page (`claimant.py`), staff sign-in
(`session.py`) and the development identity provider (`dev_idp.py`), with their templates. The HTTP API's app
(`api/app.py`) serves them beside the JSON API."""
